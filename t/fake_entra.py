"""fake_entra: t/fake-azure's Entra ID beyond client secrets (imported by t/fake-azure).

Client assertions, checked for real: certificate assertions (RS256 against the
certificate registered for the client, with the `openssl` binary; x5t, aud, iss/sub,
exp/nbf, a jti not used before) and federated assertions (a token from an identity
provider the test registered: issuer, subject, audience and its public key). Plus what
Microsoft's own clients fetch before they log in: OpenID discovery
(/{tenant}/v2.0/.well-known/openid-configuration) and ARM's /metadata/endpoints; a
GitHub Actions OIDC token endpoint (/_actions/token); and user tokens for a stand-in
`az` (POST /_fake/user-token); the v1 token endpoint's client secret grant for Azure
Storage (/{tenant}/oauth2/token, resource=https://storage.azure.com/). Leaves out client secrets, IMDS and ARM (t/fake-azure).

Error codes. Confirmed from Microsoft documentation or recorded answers: AADSTS700027
(signature), AADSTS700024 (time range), AADSTS700021 (iss/sub not the client),
AADSTS700023 (aud), AADSTS70021 (no matching federated identity record).
Guessed: AADSTS700025 for a jti used twice, AADSTS50027 for an assertion that is not a JWT.
"""

import base64
import hashlib
import json
import os
import secrets
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AZ_CLI_APP = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # the Azure CLI's public client id
ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Entra:
    def __init__(self, app, resp, entra_error):
        self.app = app
        self.Resp = resp
        self.error = entra_error
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.certs = {}      # (tenant lower, client lower) -> [(thumbprint b64u, pubkey pem)]
            self.federated = {}  # (tenant lower, client lower) -> [{issuer, subject, audience, key}]
            self.jtis = {}       # jti -> exp
            self.actions = None  # {"request_token", "subject", "issuer"}

    # --- openssl

    def _tmp(self, data):
        fd, path = tempfile.mkstemp(dir=self.app.dir, prefix="entra.")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return path

    def verify_rs256(self, pubkey_pem, signing_input, sig):
        paths = [self._tmp(pubkey_pem.encode()), self._tmp(signing_input), self._tmp(sig)]
        try:
            p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", paths[0], "-signature",
                                paths[2], paths[1]], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            return p.returncode == 0
        finally:
            for x in paths:
                os.unlink(x)

    def idp_key(self):
        """The emulator's own RSA key, playing GitHub Actions' OIDC issuer."""
        key = os.path.join(self.app.dir, "actions-idp.key")
        pub = key + ".pub"
        if not os.path.exists(pub):
            subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                            "rsa_keygen_bits:2048", "-out", key], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(pub) as f:
            return key, f.read()

    def sign_rs256(self, claims):
        key, _ = self.idp_key()
        head = {"alg": "RS256", "typ": "JWT", "kid": "fake-actions"}
        signing = (b64u(json.dumps(head, separators=(",", ":")).encode()) + "."
                   + b64u(json.dumps(claims, separators=(",", ":")).encode()))
        data = self._tmp(signing.encode())
        try:
            p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, data],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
        finally:
            os.unlink(data)
        return signing + "." + b64u(p.stdout)

    # --- control: POST /_fake/certificates, /_fake/federated, /_fake/actions, /_fake/user-token

    def control(self, req):
        path = req["path"].rstrip("/")
        if path not in ("/_fake/certificates", "/_fake/federated", "/_fake/actions",
                        "/_fake/user-token") or req["method"] != "POST":
            return None
        try:
            spec = json.loads(req["body"] or b"{}")
            if not isinstance(spec, dict):
                raise ValueError("want a JSON object")
            tenant = spec.get("tenant") or self.app.default_tenant
            if path == "/_fake/user-token":
                return self.user_token(tenant, spec)
            if path == "/_fake/actions":
                self.actions = {"request_token": spec["request_token"],
                                "subject": spec["subject"],
                                "issuer": spec.get("issuer") or ACTIONS_ISSUER}
                return self.Resp(200, {"issuer": self.actions["issuer"],
                                       "key": self.idp_key()[1]})
            client = spec["client"]
            self.app.add_client(tenant, client)
            k = (tenant.lower(), client.lower())
            if path == "/_fake/certificates":
                der = ssl.PEM_cert_to_DER_cert(spec["certificate"])
                thumb = b64u(hashlib.sha1(der).digest())
                cert = self._tmp(spec["certificate"].encode())
                try:
                    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", cert],
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         check=True).stdout.decode()
                finally:
                    os.unlink(cert)
                with self.lock:
                    self.certs.setdefault(k, []).append((thumb, pub))
                return self.Resp(200, {"client": client, "x5t": thumb})
            rec = {"issuer": spec["issuer"], "subject": spec["subject"],
                   "audience": spec.get("audience") or "api://AzureADTokenExchange",
                   "key": spec["key"]}
            with self.lock:
                self.federated.setdefault(k, []).append(rec)
            return self.Resp(200, {"client": client, "issuer": rec["issuer"],
                                   "subject": rec["subject"], "audience": rec["audience"]})
        except (ValueError, KeyError, TypeError, subprocess.CalledProcessError) as e:
            return self.Resp(400, {"error": {"code": "InvalidRequest", "message": repr(e)}})

    def user_token(self, tenant, spec):
        lifetime = int(spec.get("lifetime") or self.app.config["token_lifetime"])
        upn = spec.get("upn") or "ada@example.com"
        tok, claims = self.app.issue_token(tenant, AZ_CLI_APP, "https://management.core.windows.net/",
                                           lifetime, {"upn": upn, "unique_name": upn,
                                                      "name": upn.split("@")[0]})
        return self.Resp(200, {"accessToken": tok, "expires_on": claims["exp"],
                               "tenant": tenant, "tokenType": "Bearer"})

    # --- routes: discovery, ARM metadata, the Actions token endpoint

    def route(self, req, segs, low):
        base = "https://" + req["host"]
        if len(low) == 4 and low[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            t = segs[0]
            return self.Resp(200, {
                "token_endpoint": "%s/%s/oauth2/v2.0/token" % (base, t),
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                          "client_secret_basic"],
                "jwks_uri": "%s/%s/discovery/v2.0/keys" % (base, t),
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token",
                                             "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": "%s/%s/v2.0" % (base, t),
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": "%s/oidc/userinfo" % base,
                "authorization_endpoint": "%s/%s/oauth2/v2.0/authorize" % (base, t),
                "device_authorization_endpoint": "%s/%s/oauth2/v2.0/devicecode" % (base, t),
                "http_logout_supported": True, "frontchannel_logout_supported": True,
                "end_session_endpoint": "%s/%s/oauth2/v2.0/logout" % (base, t),
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid"],
                "kerberos_endpoint": "%s/%s/kerberos" % (base, t),
                "tenant_region_scope": "NA", "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com", "rbac_url": "https://pas.windows.net"})
        if low == ["metadata", "endpoints"]:
            return self.metadata(req, base)
        if low == ["_actions", "token"]:
            return self.actions_token(req)
        if len(low) == 3 and low[1:] == ["oauth2", "token"]:
            return self.v1_token(req, segs[0])
        return None

    def v1_token(self, req, tenant):
        """The v1 endpoint's client secret grant, for Azure Storage only (hadoop-azure's
        ClientCredsTokenProvider: resource=https://storage.azure.com/)."""
        form = {k: v[0] for k, v in urllib.parse.parse_qs(
            req["body"].decode("utf-8", "replace")).items()}
        client = self.app.clients.get((tenant.lower(), form.get("client_id", "").lower()))
        if req["method"] != "POST" or form.get("grant_type") != "client_credentials":
            return self.error(400, "invalid_request", 900144, "The request body must contain "
                              "the following parameter: 'grant_type'.")
        if client is None:
            return self.error(400, "unauthorized_client", 700016, "Application with identifier "
                              "'%s' was not found in the directory '%s'."
                              % (form.get("client_id"), tenant))
        if client[2] is None or form.get("client_secret") != client[2]:
            return self.error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        if form.get("resource") not in ("https://storage.azure.com/", "https://storage.azure.com"):
            return self.error(400, "invalid_resource", 500011, "The resource principal named %s "
                              "was not found in the tenant named %s." % (form.get("resource"), tenant))
        lifetime = int(self.app.config["token_lifetime"])
        tok, c = self.app.issue_token(client[0], client[1], form["resource"], lifetime)
        return self.Resp(200, {"token_type": "Bearer", "expires_in": str(lifetime),
                               "ext_expires_in": str(lifetime), "expires_on": str(c["exp"]),
                               "not_before": str(c["nbf"]), "resource": form["resource"],
                               "access_token": tok})

    def metadata(self, req, base):
        api = (req["query"].get("api-version") or [""])[0]
        auth = {"loginEndpoint": base + "/", "audiences": ["https://management.core.windows.net/",
                                                           "https://management.azure.com/"],
                "tenant": "common", "identityProvider": "AAD"}
        if api and api < "2022-09-01":
            return self.Resp(200, {"galleryEndpoint": base + "/", "graphEndpoint": base + "/",
                                   "portalEndpoint": base + "/", "authentication": auth})
        return self.Resp(200, [{
            "portal": base, "authentication": auth, "media": base, "graphAudience": base,
            "graph": base + "/", "name": "AzureCloud",
            "suffixes": {"azureDataLakeStoreFileSystem": "azuredatalakestore.net",
                         "acrLoginServer": "azurecr.io", "sqlServerHostname": "database.windows.net",
                         "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
                         "keyVaultDns": "vault.azure.net", "storage": "core.windows.net",
                         "azureFrontDoorEndpointSuffix": "azurefd.net"},
            "batch": base + "/", "resourceManager": base + "/",
            "vmImageAliasDoc": base + "/aliases.json", "activeDirectoryDataLake": base + "/",
            "sqlManagement": base + "/", "microsoftGraphResourceId": base + "/",
            "appInsightsResourceId": base, "appInsightsTelemetryChannelResourceId": base,
            "attestationResourceId": base, "synapseAnalyticsResourceId": base,
            "logAnalyticsResourceId": base, "ossrDbmsResourceId": base}])

    def actions_token(self, req):
        a = self.actions
        auth = (req["headers"].get("Authorization") or "").split(None, 1)
        if a is None:
            return self.Resp(404, {"message": "Not Found"})
        if len(auth) != 2 or auth[0].lower() != "bearer" or auth[1].strip() != a["request_token"]:
            return self.Resp(401, {"message": "Bad credentials"})
        aud = (req["query"].get("audience") or [""])[0] or "https://github.com/"
        now = int(time.time())
        claims = {"jti": str(uuid.uuid4()), "sub": a["subject"], "aud": aud,
                  "ref": "refs/heads/main", "repository": "octo/legion",
                  "repository_owner": "octo", "run_id": "1", "event_name": "push",
                  "iss": a["issuer"], "nbf": now - 5, "exp": now + 300, "iat": now}
        return self.Resp(200, {"count": 1, "value": self.sign_rs256(claims)})

    # --- the token endpoint's client assertions

    def check_assertion(self, req, tenant, client, form):
        """None when the assertion proves the client, else an Entra error answer."""
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return self.error(400, "invalid_request", 900144, "The request body must contain "
                              "the following parameter: 'client_assertion_type'.")
        jwt = form.get("client_assertion") or ""
        try:
            h64, c64, s64 = jwt.split(".")
            head = json.loads(unb64u(h64))
            claims = json.loads(unb64u(c64))
            sig = unb64u(s64)
            if not isinstance(head, dict) or not isinstance(claims, dict):
                raise ValueError
        except (ValueError, TypeError):
            return self.error(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
        k = (tenant.lower(), client.lower())
        signing = (h64 + "." + c64).encode()
        cert = "x5t" in head or "x5t#S256" in head
        if cert:
            err = self.check_cert(req, tenant, client, k, head, claims, signing, sig)
        else:
            err = self.check_federated(k, head, claims, signing, sig)
        if err:
            return err
        now = time.time()
        if not (claims.get("nbf", 0) - 300 <= now < claims.get("exp", 0)):
            return self.error(401, "invalid_client", 700024, "Client assertion is not within its "
                              "valid time range. Current time: %s, assertion valid from %s, "
                              "expiry time of assertion %s." % (
                                  _iso(now), _iso(claims.get("nbf", 0)), _iso(claims.get("exp", 0))))
        # a federated token is reused until it expires (Kubernetes' hour-long tokens);
        # a certificate assertion must be new each time
        jti = claims.get("jti") if cert else None
        with self.lock:
            self.jtis = {j: e for j, e in self.jtis.items() if e > now}
            if jti and jti in self.jtis:
                return self.error(401, "invalid_client", 700025, "The client assertion's "
                                  "identifier (jti) '%s' was already used." % jti)
            if jti:
                self.jtis[jti] = claims.get("exp", now + 600)
        return None

    def check_cert(self, req, tenant, client, k, head, claims, signing, sig):
        if claims.get("iss") != client or claims.get("sub") != client:
            return self.error(401, "invalid_client", 700021, "Client assertion application "
                              "identifier doesn't match 'client_id' parameter. Review the "
                              "documentation at https://docs.microsoft.com/en-us/azure/"
                              "active-directory/develop/active-directory-certificate-credentials .")
        thumb = head.get("x5t") or ""
        with self.lock:
            keys = [pub for t, pub in self.certs.get(k, []) if t == thumb]
        if head.get("alg") != "RS256" or not keys or not self.verify_rs256(keys[0], signing, sig):
            hexthumb = ""
            try:
                hexthumb = unb64u(thumb).hex().upper()
            except ValueError:
                pass
            return self.error(401, "invalid_client", 700027, "Client assertion contains an "
                              "invalid signature. [Reason - %s, Thumbprint of key used by client: "
                              "'%s', Please visit the Azure Portal, Graph Explorer or directly use "
                              "MS Graph to see configured keys for app Id '%s'.]" % (
                                  "The key was not found." if not keys else
                                  "The provided signature value did not match the expected "
                                  "signature value.", hexthumb, client))
        want = "https://%s/%s/oauth2/v2.0/token" % (req["host"], tenant)
        aud = claims.get("aud")
        if aud not in (want, "https://%s/%s/oauth2/token" % (req["host"], tenant)):
            return self.error(401, "invalid_client", 700023, "Client assertion audience claim "
                              "does not match Realm issuer. Review the documentation at "
                              "https://docs.microsoft.com/en-us/azure/active-directory/develop/"
                              "active-directory-certificate-credentials .")
        return None

    def check_federated(self, k, head, claims, signing, sig):
        with self.lock:
            recs = list(self.federated.get(k, []))
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        match = [r for r in recs if r["issuer"] == claims.get("iss")
                 and r["subject"] == claims.get("sub") and r["audience"] in auds]
        if not match:
            return self.error(400, "invalid_request", 70021, "No matching federated identity "
                              "record found for presented assertion. Assertion Issuer: '%s'. "
                              "Assertion Subject: '%s'. Assertion Audience: '%s'." % (
                                  claims.get("iss"), claims.get("sub"), aud))
        if head.get("alg") != "RS256" or not self.verify_rs256(match[0]["key"], signing, sig):
            return self.error(401, "invalid_client", 700027, "Client assertion failed signature "
                              "validation.")
        return None


def _iso(t):
    return time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(t))
