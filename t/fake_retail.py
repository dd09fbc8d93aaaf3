"""fake_retail: a TEST FIXTURE emulating the Azure Retail Prices API for t/fake-azure.

    GET /api/retail/prices[?$filter=...][&$skip=N]

EVERY PRICE IN THIS FILE IS MADE UP. The numbers are of the right size for ACI but are
not Azure's; never copy them into a price file.

What it follows of the published API (learn.microsoft.com, "Azure Retail Prices
overview", and recorded answers quoted in public code): the answer is
{"BillingCurrency", "CustomerEntityId", "CustomerEntityType", "Items": [...],
"NextPageLink", "Count"}; each item has currencyCode, tierMinimumUnits, retailPrice,
unitPrice, armRegionName, location, effectiveStartDate, meterId, meterName, productId,
skuId, productName, skuName, serviceName, serviceId, serviceFamily, unitOfMeasure, type,
isPrimaryMeterRegion, armSkuName. Pages hold at most PAGE items (the real service: 1000;
set lower with POST /_fake/retail {"pageSize": N}); NextPageLink is the same query with
$skip advanced, spelled as the real one is (https://HOST:PORT/api/retail/prices?...),
null on the last page. $filter takes `field eq 'value'` terms joined by `and` (what
Legion sends); values are case-sensitive, as in API versions from 2023-01-01-preview on.
Anything else (or, not, contains, an unknown field) is refused with 400 and
{"Error": {"Code": "BadRequest", "Message": "Invalid OData parameters supplied"}}: the
message is the real one; the envelope's shape is a guess from third-party tests.

ACI's rows (names as the real service has them): productName "Container Instances",
skuName "Standard", meterName "Standard vCPU Duration" ("1 Hour") and "Standard Memory
Duration" ("1 GB Hour"); the Windows software meter "Standard Windows Software"
("1 Second"); skuName "Standard Spot" and "Confidential containers ACI"; productName
"Container Instances with GPU" (units "100 Seconds", "100 GB Seconds"); and, for one
region, an older vCPU price superseded by a later effectiveStartDate.

Modes for tests (POST /_fake/retail {"mode": ...}): "normal"; "malformed" (200 with a body
that is not a price list); "500" (every request answers 500); "loop" (the second page's
NextPageLink points back at the first page); "elsewhere" (NextPageLink names another
host).
"""

import json
import re
import urllib.parse

PAGE = 1000
MODES = ("normal", "malformed", "500", "loop", "elsewhere")
FILTER_FIELDS = ("armRegionName", "location", "meterId", "meterName", "productId", "skuId",
                 "productName", "skuName", "serviceName", "serviceId", "serviceFamily",
                 "priceType", "armSkuName", "currencyCode")

# region: (display name, vCPU per hour, memory per GB-hour): made up
REGIONS = {
    "westus": ("US West", 0.0500, 0.0050),
    "eastus": ("US East", 0.0400, 0.0044),
    "westeurope": ("EU West", 0.0450, 0.0049),
    "swedencentral": ("Sweden Central", 0.0466, 0.0051),
    "japaneast": ("JA East", 0.0520, 0.0057),
}


def _item(n, region, product, sku, meter, unit, price, start="2021-06-08T00:00:00Z",
          ptype="Consumption"):
    loc = REGIONS[region][0]
    return {
        "currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": price,
        "unitPrice": price, "armRegionName": region, "location": loc,
        "effectiveStartDate": start, "meterId": "00000000-0000-4000-8000-%012d" % n,
        "meterName": meter, "productId": "DZH318Z0BPVW", "skuId": "DZH318Z0BPVW/%04d" % n,
        "productName": product, "skuName": sku, "serviceName": "Container Instances",
        "serviceId": "DZH315RVCX2R", "serviceFamily": "Containers", "unitOfMeasure": unit,
        "type": ptype, "isPrimaryMeterRegion": True, "armSkuName": "",
    }


def rows():
    """Every row of the fake's price list, in a fixed order (regions interleaved the way
    the real list mixes them)."""
    out, n = [], 0
    for region, (_, cpu, mem) in REGIONS.items():
        for product, sku, meter, unit, price in (
                ("Container Instances", "Standard", "Standard vCPU Duration", "1 Hour", cpu),
                ("Container Instances", "Standard Spot", "Standard Spot vCPU Duration",
                 "1 Hour", round(cpu * 0.3, 6)),
                ("Container Instances", "Standard", "Standard Windows Software", "1 Second",
                 0.000012),
                ("Container Instances", "Confidential containers ACI",
                 "Confidential containers ACI vCPU Duration", "1 Hour", round(cpu * 1.2, 6)),
                ("Container Instances with GPU", "V100", "V100 vCPU Duration", "100 Seconds",
                 round(cpu / 36, 7)),
                ("Container Instances with GPU", "V100", "V100 Memory Duration",
                 "100 GB Seconds", round(mem / 36, 8)),
                ("Container Instances", "Standard", "Standard Memory Duration", "1 GB Hour",
                 mem),
                ("Container Instances", "Standard Spot", "Standard Spot Memory Duration",
                 "1 GB Hour", round(mem * 0.3, 6)),
                ("Container Instances", "Confidential containers ACI",
                 "Confidential containers ACI Memory Duration", "1 GB Hour",
                 round(mem * 1.2, 6))):
            n += 1
            out.append(_item(n, region, product, sku, meter, unit, price))
    # japaneast's vCPU price changed: the older row comes after the newer one here
    n += 1
    out.append(_item(n, "japaneast", "Container Instances", "Standard",
                     "Standard vCPU Duration", "1 Hour", 0.0600, start="2019-01-01T00:00:00Z"))
    # a reservation-style row of another type that must be skipped
    n += 1
    out.append(_item(n, "westus", "Container Instances", "Standard", "Standard vCPU Duration",
                     "1 Hour", 0.0001, ptype="DevTestConsumption"))
    return out


def parse_filter(text):
    """[(field, value)] of `field eq 'value' [and ...]`; ValueError for anything else."""
    terms, pos = [], 0
    term = re.compile(r"\s*([A-Za-z]+)\s+eq\s+'((?:[^']|'')*)'\s*")
    while True:
        m = term.match(text, pos)
        if not m or m.group(1) not in FILTER_FIELDS:
            raise ValueError(text)
        terms.append((m.group(1), m.group(2).replace("''", "'")))
        pos = m.end()
        if pos == len(text):
            return terms
        a = re.compile(r"and\s+").match(text, pos)
        if not a:
            raise ValueError(text)
        pos = a.end()


class Retail:
    def __init__(self, resp):
        self.Resp = resp
        self.reset()

    def reset(self):
        self.mode = "normal"
        self.page = PAGE

    def error(self, status, code, message):
        return self.Resp(status, {"Error": {"Code": code, "Message": message}})

    def route(self, req):
        """The answer to a request for /api/retail/prices."""
        if req["method"] != "GET":
            return self.error(405, "MethodNotAllowed", "The requested resource does not "
                              "support http method '%s'." % req["method"])
        if self.mode == "500":
            return self.error(500, "InternalServerError", "An error has occurred.")
        if self.mode == "malformed":
            return self.Resp(200, "<html><body>Service Unavailable</body></html>",
                             [("Content-Type", "text/html")])
        q = req["query"]
        try:
            terms = parse_filter(q["$filter"][0]) if "$filter" in q else []
            skip = int(q.get("$skip", ["0"])[0])
            if skip < 0:
                raise ValueError(skip)
        except ValueError:
            return self.error(400, "BadRequest", "Invalid OData parameters supplied")
        sel = []
        for r in rows():
            ok = True
            for k, v in terms:
                have = r["type"] if k == "priceType" else r.get(k)
                ok = ok and have == v
            if ok:
                sel.append(r)
        items = sel[skip:skip + self.page]
        nxt = None
        if skip + self.page < len(sel):
            more = skip + self.page
            if self.mode == "loop" and skip > 0:
                more = 0
            params = [(k, v[0]) for k, v in q.items() if k != "$skip"] + [("$skip", str(more))]
            host = "prices.example.test" if self.mode == "elsewhere" else req["host"]
            nxt = "https://%s%s?%s" % (host, req["path"], urllib.parse.urlencode(
                params, quote_via=urllib.parse.quote, safe="$"))
        return self.Resp(200, {"BillingCurrency": "USD", "CustomerEntityId": "Default",
                               "CustomerEntityType": "Retail", "Items": items,
                               "NextPageLink": nxt, "Count": len(items)})

    def control(self, req):
        """POST /_fake/retail {"mode", "pageSize"}; GET shows them. None: not ours."""
        if req["path"].rstrip("/") != "/_fake/retail":
            return None
        if req["method"] in ("POST", "PUT"):
            try:
                spec = json.loads(req["body"] or b"{}")
                mode = spec.get("mode", self.mode)
                size = spec.get("pageSize", self.page)
                if mode not in MODES or isinstance(size, bool) or not isinstance(size, int) \
                        or size < 1:
                    raise ValueError("mode is one of %s; pageSize a whole number >= 1"
                                     % ", ".join(MODES))
            except (ValueError, AttributeError) as e:
                return self.Resp(400, {"error": {"code": "InvalidRetail", "message": str(e)}})
            self.mode, self.page = mode, size
        return self.Resp(200, {"mode": self.mode, "pageSize": self.page})
