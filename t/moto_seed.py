"""t/moto_seed.py URL: prepares a fresh moto for t/fargate*.bats and prints
"KEY_ID SECRET ROLE_ARN SUBNET SECURITY_GROUP". The first three requests are the only
unsigned ones moto takes (INITIAL_NO_AUTH_ACTION_COUNT=3): an IAM user, its policy and
its access key; everything after is signed with that key. Leaves out ECS: the tests
seed their own tasks."""
import json
import sys
import urllib.request

import boto3

url = sys.argv[1]
ALL = json.dumps({"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
anon = dict(endpoint_url=url, region_name="us-east-1",
            aws_access_key_id="AKIAUNSIGNEDSEED0000", aws_secret_access_key="unsigned")
iam = boto3.client("iam", **anon)
iam.create_user(UserName="legion")
iam.put_user_policy(UserName="legion", PolicyName="all", PolicyDocument=ALL)
key = iam.create_access_key(UserName="legion")["AccessKey"]

kw = dict(endpoint_url=url, region_name="us-east-1",
          aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
iam = boto3.client("iam", **kw)
trust = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Federated": "token.actions.example"},
    "Action": "sts:AssumeRoleWithWebIdentity"}]})
role = iam.create_role(RoleName="legion-ci", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
iam.put_role_policy(RoleName="legion-ci", PolicyName="all", PolicyDocument=ALL)

ec2 = boto3.client("ec2", **kw)
vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
# moto's ENIs lack a private DNS name (and its ECS RunTask fails) unless this is on
ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.99.1.0/24")["Subnet"]["SubnetId"]
sg = ec2.create_security_group(GroupName="legion", Description="legion tests",
                               VpcId=vpc)["GroupId"]

# tasks stay RUNNING until stopped (moto's default moves them on at every read)
req = urllib.request.Request(
    url + "/moto-api/state-manager/set-transition", method="POST",
    data=json.dumps({"model_name": "ecs::task",
                     "transition": {"progression": "manual", "times": 1000000}}).encode())
urllib.request.urlopen(req).read()

print(key["AccessKeyId"], key["SecretAccessKey"], role, subnet, sg)
