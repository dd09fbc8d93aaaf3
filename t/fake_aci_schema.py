"""fake_aci_schema: the shape of a Microsoft.ContainerInstance/containerGroups PUT body
(api-version 2023-05-01, from the REST API's published definitions), and the check that
t/fake-azure runs on every PUT before its own rules: unknown properties at any level,
wrong JSON types, unknown enum values and missing required properties are refused as ARM
refuses a body it cannot deserialize (400 InvalidRequestContent, with the JSON path of
the bad field).

Leaves out what t/fake-azure checks itself with ACI's own error codes: osType,
restartPolicy, ipAddress.type and identity.type values, the resource requests (missing:
ResourceRequestsNotSpecified), and an ipAddress without ports. Property names match in
any case, as ARM's deserializer matches them; null counts as absent. Standard library
only.

Stricter than ARM where ARM's JSON reader converts: a number given as a string ("1") or a
string given as a number is refused here (see FAKE-AZURE.md, fidelity notes).
"""

import json
import re

# A type is "string", "number", "integer", "boolean", "any" (free-form JSON), a definition
# name (a key of DEFS), ("array", TYPE), ("map", TYPE) (an object of TYPE values), or
# ("enum", NAME, [VALUES]) (a string, one of VALUES in any case).
S, N, I, B, ANY = "string", "number", "integer", "boolean", "any"


def _arr(t):
    return ("array", t)


def _map(t):
    return ("map", t)


def _enum(name, *values):
    return ("enum", name, list(values))


# Each definition: (type name ARM reports, {property: type}, [required properties]).
# Only "ContainerGroupPropertiesDefinition" is a type name seen in a real answer; the
# others are the REST definitions' names.
DEFS = {
    "ContainerGroup": ("ContainerGroup", {
        "id": S, "name": S, "type": S, "location": S, "tags": _map(S), "zones": _arr(S),
        "identity": "ContainerGroupIdentity", "properties": "ContainerGroupProperties",
    }, ["properties"]),
    "ContainerGroupProperties": ("ContainerGroupPropertiesDefinition", {
        "provisioningState": S, "containers": _arr("Container"),
        "imageRegistryCredentials": _arr("ImageRegistryCredential"),
        "restartPolicy": S, "ipAddress": "IpAddress", "osType": S, "volumes": _arr("Volume"),
        "instanceView": ANY, "diagnostics": "ContainerGroupDiagnostics",
        "subnetIds": _arr("ContainerGroupSubnetId"), "dnsConfig": "DnsConfiguration",
        "sku": _enum("ContainerGroupSku", "Standard", "Dedicated", "Confidential"),
        "encryptionProperties": "EncryptionProperties",
        "initContainers": _arr("InitContainerDefinition"),
        "extensions": _arr("DeploymentExtensionSpec"),
        "confidentialComputeProperties": "ConfidentialComputeProperties",
        "priority": _enum("ContainerGroupPriority", "Regular", "Spot"),
    }, ["containers"]),
    "Container": ("Container", {"name": S, "properties": "ContainerProperties"},
                  ["name", "properties"]),
    "ContainerProperties": ("ContainerProperties", {
        "image": S, "command": _arr(S), "ports": _arr("ContainerPort"),
        "environmentVariables": _arr("EnvironmentVariable"), "instanceView": ANY,
        "resources": "ResourceRequirements", "volumeMounts": _arr("VolumeMount"),
        "livenessProbe": "ContainerProbe", "readinessProbe": "ContainerProbe",
        "securityContext": "SecurityContextDefinition",
    }, ["image"]),
    "SecurityContextDefinition": ("SecurityContextDefinition", {
        "privileged": B, "allowPrivilegeEscalation": B,
        "capabilities": "SecurityContextCapabilitiesDefinition", "runAsGroup": I,
        "runAsUser": I, "seccompProfile": S,
    }, []),
    "SecurityContextCapabilitiesDefinition": ("SecurityContextCapabilitiesDefinition",
                                              {"add": _arr(S), "drop": _arr(S)}, []),
    "ResourceRequirements": ("ResourceRequirements",
                             {"requests": "ResourceRequests", "limits": "ResourceLimits"}, []),
    "ResourceRequests": ("ResourceRequests",
                         {"memoryInGB": N, "cpu": N, "gpu": "GpuResource"}, []),
    "ResourceLimits": ("ResourceLimits", {"memoryInGB": N, "cpu": N, "gpu": "GpuResource"}, []),
    "GpuResource": ("GpuResource", {"count": I, "sku": _enum("GpuSku", "K80", "P100", "V100")},
                    ["count", "sku"]),
    "Volume": ("Volume", {"name": S, "azureFile": "AzureFileVolume", "emptyDir": ANY,
                          "secret": _map(S), "gitRepo": "GitRepoVolume"}, ["name"]),
    "AzureFileVolume": ("AzureFileVolume", {"shareName": S, "readOnly": B,
                                            "storageAccountName": S, "storageAccountKey": S},
                        ["shareName", "storageAccountName"]),
    "GitRepoVolume": ("GitRepoVolume", {"directory": S, "repository": S, "revision": S},
                      ["repository"]),
    "VolumeMount": ("VolumeMount", {"name": S, "mountPath": S, "readOnly": B},
                    ["name", "mountPath"]),
    "ContainerExec": ("ContainerExec", {"command": _arr(S)}, []),
    "ContainerHttpGet": ("ContainerHttpGet", {
        "path": S, "port": I, "scheme": _enum("Scheme", "http", "https"),
        "httpHeaders": _arr("HttpHeader"),
    }, ["port"]),
    "HttpHeader": ("HttpHeader", {"name": S, "value": S}, []),
    "ContainerProbe": ("ContainerProbe", {
        "exec": "ContainerExec", "httpGet": "ContainerHttpGet", "initialDelaySeconds": I,
        "periodSeconds": I, "failureThreshold": I, "successThreshold": I, "timeoutSeconds": I,
    }, []),
    "ContainerGroupIdentity": ("ContainerGroupIdentity", {
        "principalId": S, "tenantId": S, "type": S,
        "userAssignedIdentities": _map("UserAssignedIdentities"),
    }, []),
    "UserAssignedIdentities": ("UserAssignedIdentities", {"principalId": S, "clientId": S}, []),
    "ImageRegistryCredential": ("ImageRegistryCredential", {
        "server": S, "username": S, "password": S, "identity": S, "identityUrl": S,
    }, ["server"]),
    "ContainerGroupDiagnostics": ("ContainerGroupDiagnostics", {"logAnalytics": "LogAnalytics"},
                                  []),
    "LogAnalytics": ("LogAnalytics", {
        "workspaceId": S, "workspaceKey": S,
        "logType": _enum("LogAnalyticsLogType", "ContainerInsights", "ContainerInstanceLogs"),
        "metadata": _map(S), "workspaceResourceId": S,
    }, ["workspaceId", "workspaceKey"]),
    "ContainerGroupSubnetId": ("ContainerGroupSubnetId", {"id": S, "name": S}, ["id"]),
    "IpAddress": ("IpAddress", {
        "ports": _arr("Port"), "type": S, "ip": S, "dnsNameLabel": S,
        "autoGeneratedDomainNameLabelScope": _enum(
            "DnsNameLabelReusePolicy", "Unsecure", "TenantReuse", "SubscriptionReuse",
            "ResourceGroupReuse", "Noreuse"),
        "fqdn": S,
    }, []),
    "Port": ("Port", {"protocol": _enum("ContainerGroupNetworkProtocol", "TCP", "UDP"),
                      "port": I}, ["port"]),
    "ContainerPort": ("ContainerPort", {"protocol": _enum("ContainerNetworkProtocol", "TCP",
                                                          "UDP"), "port": I}, ["port"]),
    "EnvironmentVariable": ("EnvironmentVariable", {"name": S, "value": S, "secureValue": S},
                            ["name"]),
    "DnsConfiguration": ("DnsConfiguration", {"nameServers": _arr(S), "searchDomains": S,
                                              "options": S}, ["nameServers"]),
    "EncryptionProperties": ("EncryptionProperties", {
        "vaultBaseUrl": S, "keyName": S, "keyVersion": S, "identity": S,
    }, ["vaultBaseUrl", "keyVersion"]),
    "InitContainerDefinition": ("InitContainerDefinition",
                                {"name": S, "properties": "InitContainerPropertiesDefinition"},
                                ["name", "properties"]),
    "InitContainerPropertiesDefinition": ("InitContainerPropertiesDefinition", {
        "image": S, "command": _arr(S), "environmentVariables": _arr("EnvironmentVariable"),
        "instanceView": ANY, "volumeMounts": _arr("VolumeMount"),
        "securityContext": "SecurityContextDefinition",
    }, []),
    "DeploymentExtensionSpec": ("DeploymentExtensionSpec",
                                {"name": S, "properties": "DeploymentExtensionProperties"},
                                ["name"]),
    "DeploymentExtensionProperties": ("DeploymentExtensionSpecProperties", {
        "extensionType": S, "version": S, "settings": ANY, "protectedSettings": ANY,
    }, ["extensionType", "version"]),
    "ConfidentialComputeProperties": ("ConfidentialComputeProperties", {"ccePolicy": S}, []),
}

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class BadContent(Exception):
    """The body does not fit the schema; str() is the deserializer's sentence."""


def child(path, key):
    """The JSON path of key under path, as ARM writes it: a.b, a['x/y']."""
    if _IDENT.match(key):
        return "%s.%s" % (path, key) if path else key
    return "%s['%s']" % (path, key.replace("'", "\\'"))


def _token(v):
    """The name ARM's JSON reader gives the token that starts v."""
    if isinstance(v, bool):
        return "Boolean"
    if isinstance(v, int):
        return "Integer"
    if isinstance(v, float):
        return "Float"
    if isinstance(v, str):
        return "String"
    return "StartObject" if isinstance(v, dict) else "StartArray"


def _shown(v):
    return json.dumps(v)[:80]


def _check(v, t, path):
    if v is None or t == ANY:
        return
    if isinstance(t, tuple):
        return _check_compound(v, t, path)
    if t in DEFS:
        return _check_object(v, t, path)
    if t == S:
        if not isinstance(v, str):
            raise BadContent("Error reading string. Unexpected token: %s. Path '%s'."
                             % (_token(v), path))
    elif t == B:
        if not isinstance(v, bool):
            raise BadContent("Error converting value %s to type 'System.Boolean'. Path '%s'."
                             % (_shown(v), path))
    elif t == N:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise BadContent("Error converting value %s to type 'System.Double'. Path '%s'."
                             % (_shown(v), path))
    elif t == I:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise BadContent("Error converting value %s to type 'System.Int32'. Path '%s'."
                             % (_shown(v), path))
        if isinstance(v, float) and not v.is_integer():
            raise BadContent("Input string '%s' is not a valid integer. Path '%s'." % (v, path))


def _check_compound(v, t, path):
    kind = t[0]
    if kind == "array":
        if not isinstance(v, list):
            raise BadContent("Error converting value %s to type 'System.Collections.Generic."
                             "IList`1[%s]'. Path '%s'." % (_shown(v), _name(t[1]), path))
        for i, x in enumerate(v):
            _check(x, t[1], "%s[%d]" % (path, i))
    elif kind == "map":
        if not isinstance(v, dict):
            raise BadContent("Error converting value %s to type 'System.Collections.Generic."
                             "IDictionary`2[System.String,%s]'. Path '%s'."
                             % (_shown(v), _name(t[1]), path))
        for k, x in v.items():
            _check(x, t[1], child(path, k))
    elif kind == "enum":
        if not isinstance(v, str) or v.lower() not in (e.lower() for e in t[2]):
            raise BadContent("Error converting value %s to type '%s'. Path '%s'."
                             % (_shown(v), t[1], path))


def _name(t):
    if isinstance(t, tuple):
        return t[1] if t[0] == "enum" else "System.Object"
    if t in DEFS:
        return DEFS[t][0]
    return {S: "System.String", N: "System.Double", I: "System.Int32",
            B: "System.Boolean"}.get(t, "System.Object")


def _check_object(v, t, path):
    tname, props, req = DEFS[t]
    if not isinstance(v, dict):
        raise BadContent("Error converting value %s to type '%s'. Path '%s'."
                         % (_shown(v), tname, path))
    lower = {k.lower(): k for k in props}
    for k, x in v.items():
        known = lower.get(k.lower())
        if known is None:
            raise BadContent("Could not find member '%s' on object of type '%s'. Path '%s'."
                             % (k, tname, child(path, k)))
        _check(x, props[known], child(path, k))
    present = {k.lower() for k, x in v.items() if x is not None}
    for r in req:
        if r.lower() not in present:
            raise BadContent("Required property '%s' not found in JSON. Path '%s'." % (r, path))


def check_container_group(body):
    """Raises BadContent when body is not a ContainerGroup document."""
    _check_object(body, "ContainerGroup", "")
