"""t/azsdk_client.py: a test fixture for t/azsdk.bats: Microsoft's Azure SDK for Python
(azure-identity, azure-mgmt-containerinstance; mk/azsdk.txt) driven against t/fake-azure:
log in with a client secret (MSAL fetches the OpenID discovery document itself), then
create, get, list and delete a container group through ARM, one line per step on stdout.
Leaves out everything legion does: this checks the emulator against Microsoft's client.

Environment: FAKE_AZURE_URL, FAKE_AZURE_TENANT, FAKE_AZURE_CLIENT, FAKE_AZURE_SECRET,
FAKE_AZURE_SUBSCRIPTION, REQUESTS_CA_BUNDLE (the emulator's CA); argv[1]: the resource
group, argv[2]: the group's name.
"""

import os
import sys

from azure.core.rest import HttpRequest
from azure.identity import ClientSecretCredential
from azure.mgmt.containerinstance import ContainerInstanceManagementClient
from azure.mgmt.containerinstance.models import (Container, ContainerGroup, ContainerPort,
                                                  EnvironmentVariable, IpAddress, Port,
                                                  ResourceRequests, ResourceRequirements)

ARM_SCOPE = "https://management.azure.com/.default"


def main():
    url = os.environ["FAKE_AZURE_URL"]
    rg, name = sys.argv[1], sys.argv[2]
    sub = os.environ["FAKE_AZURE_SUBSCRIPTION"]
    cred = ClientSecretCredential(os.environ["FAKE_AZURE_TENANT"], os.environ["FAKE_AZURE_CLIENT"],
                                  os.environ["FAKE_AZURE_SECRET"], authority=url,
                                  disable_instance_discovery=True)
    tok = cred.get_token(ARM_SCOPE)
    print("login: token for %d s" % (tok.expires_on - int(__import__("time").time())))
    aci = ContainerInstanceManagementClient(cred, sub, base_url=url,
                                            credential_scopes=[ARM_SCOPE])
    # the resource group, through the same client's pipeline (azure-mgmt-resource is not
    # installed): PUT /subscriptions/S/resourcegroups/RG
    r = aci._send_request(HttpRequest(
        "PUT", "%s/subscriptions/%s/resourcegroups/%s?api-version=2021-04-01" % (url, sub, rg),
        json={"location": "westus"}))
    print("resource group: HTTP %d" % r.status_code)
    group = ContainerGroup(
        location="westus", os_type="Linux", restart_policy="Never",
        tags={"made-by": "azure-sdk-for-python"},
        containers=[Container(
            name="hello", image="mcr.microsoft.com/azuredocs/aci-helloworld",
            command=["/bin/sh", "-c", "echo hello"],
            resources=ResourceRequirements(requests=ResourceRequests(cpu=1.0, memory_in_gb=1.5)),
            ports=[ContainerPort(port=80)],
            environment_variables=[EnvironmentVariable(name="GREETING", value="hello"),
                                   EnvironmentVariable(name="TOKEN", secure_value="s3cret")])],
        ip_address=IpAddress(type="Public", ports=[Port(port=80, protocol="TCP")],
                             dns_name_label=name))
    made = aci.container_groups.begin_create_or_update(rg, name, group).result()
    print("create: %s %s %s" % (made.name, made.provisioning_state, made.ip_address.fqdn))
    got = aci.container_groups.get(rg, name)
    print("get: %s %s cpu=%s tags=%s" % (got.name, got.provisioning_state,
                                         got.containers[0].resources.requests.cpu,
                                         ",".join("%s=%s" % kv for kv in sorted(got.tags.items()))))
    names = sorted(g.name for g in aci.container_groups.list_by_resource_group(rg))
    print("list: %s" % " ".join(names))
    everywhere = sorted(g.name for g in aci.container_groups.list())
    print("list subscription: %s" % " ".join(everywhere))
    aci.container_groups.begin_delete(rg, name).result()
    left = sorted(g.name for g in aci.container_groups.list_by_resource_group(rg))
    print("delete: %d left" % len(left))


if __name__ == "__main__":
    main()
