#!/usr/bin/env bats
# t/fargate.bats: the fargate backend against moto (t/moto_helper.bash, signatures
# checked): deploy-master's task definition (Fargate sizes, secrets only as Secrets
# Manager valueFrom, awslogs), its rollback when the master cannot be reached (no task
# left running, no secret, no log group, no task definition), configuration errors before
# any request, and status, delete, gc and logs --container of seeded Legion tasks.
# moto runs no containers, and its tasks have no public IP: a Spark job cannot run here,
# and no test lets legion contact a task's (moto-made, 10.x) address.

load test_helper
load moto_helper

setup_file() {
	moto_start
}

teardown_file() {
	moto_stop
}

setup() {
	moto_env
	export LEGION_ECS_CLUSTER=t$BATS_SUITE_TEST_NUMBER
}

# seed ECS_CLUSTER CLUSTER_ID NAME:ROLE...: RUNNING Fargate tasks tagged as Legion's.
seed() {
	local ecs_cluster=$1 id=$2
	shift 2
	moto_py "
ecs.create_cluster(clusterName='$ecs_cluster')
td = ecs.register_task_definition(family='seed', requiresCompatibilities=['FARGATE'],
    networkMode='awsvpc', cpu='1024', memory='2048',
    containerDefinitions=[{'name': 'spark', 'image': 'example/legion:1', 'memory': 2048}])
arn = td['taskDefinition']['taskDefinitionArn']
for spec in sys.argv[1:]:
    name, role = spec.split(':')
    ecs.run_task(cluster='$ecs_cluster', taskDefinition=arn, launchType='FARGATE',
        startedBy=name, networkConfiguration={'awsvpcConfiguration': {
            'subnets': ['$MOTO_SUBNET'], 'securityGroups': ['$MOTO_SG']}},
        tags=[{'key': 'legion-cluster', 'value': '$id'}, {'key': 'legion-role', 'value': role},
              {'key': 'legion-created', 'value': '1000'}, {'key': 'legion-name', 'value': name}])
" "$@"
}

# running ECS_CLUSTER: the startedBy of each RUNNING task, sorted, one a line.
running() {
	moto_py "
arns = ecs.list_tasks(cluster='$1', desiredStatus='RUNNING')['taskArns']
ts = ecs.describe_tasks(cluster='$1', tasks=arns)['tasks'] if arns else []
print('\n'.join(sorted(t['startedBy'] for t in ts)))"
}

@test "deploy-master registers a Fargate task definition with secrets only as valueFrom" {
	run --separate-stderr legion deploy-master --backend fargate --image example/legion:1
	echo "$stderr"
	[ "$status" -eq 69 ]
	id=$(sed -n 's/^legion: starting cluster \(legion-[0-9a-f]*\) .*/\1/p' <<<"$stderr")
	[ -n "$id" ]
	moto_py "
tds = ecs.list_task_definitions(familyPrefix='$id-master', status='INACTIVE')['taskDefinitionArns']
assert len(tds) == 1, tds
td = ecs.describe_task_definition(taskDefinition=tds[0])['taskDefinition']
assert td['requiresCompatibilities'] == ['FARGATE'] and td['networkMode'] == 'awsvpc', td
assert (td['cpu'], td['memory']) == ('1024', '2048'), (td['cpu'], td['memory'])
assert td['executionRoleArn'] == '$LEGION_AWS_EXECUTION_ROLE'
c = td['containerDefinitions'][0]
assert c['image'] == 'example/legion:1' and c['command'][0] == 'legion-master', c
names = sorted(s['name'] for s in c['secrets'])
assert names == ['LEGION_SPARK_SECRET', 'LEGION_TLS_KEY', 'LEGION_TOKEN'], names
for s in c['secrets']:
    assert s['valueFrom'].startswith('arn:aws:secretsmanager:us-east-1:123456789012:secret:legion/$id'), s
    assert s['valueFrom'].endswith(':' + s['name'] + '::'), s
assert not c.get('environment'), c.get('environment')
lc = c['logConfiguration']
assert lc['logDriver'] == 'awslogs' and lc['options']['awslogs-group'] == '/legion/$id', lc
# the task: plain values in its overrides, tagged, startedBy its name
arns = ecs.list_tasks(cluster='$LEGION_ECS_CLUSTER', desiredStatus='STOPPED')['taskArns']
t = ecs.describe_tasks(cluster='$LEGION_ECS_CLUSTER', tasks=arns, include=['TAGS'])['tasks'][0]
env = {e['name'] for e in t['overrides']['containerOverrides'][0]['environment']}
assert 'LEGION_CLUSTER' in env and not env & {'LEGION_TOKEN', 'LEGION_SPARK_SECRET', 'LEGION_TLS_KEY'}, env
tags = {x['key']: x['value'] for x in t['tags']}
assert tags['legion-cluster'] == '$id' and tags['legion-role'] == 'master', tags
assert t['startedBy'] == '$id-master' and tags['legion-name'] == '$id-master', t
"
}

@test "a master that cannot be reached is rolled back: no task running, no secret, no log group" {
	run --separate-stderr legion deploy-master --backend fargate --image example/legion:1
	echo "$stderr"
	[ "$status" -eq 69 ]
	[[ $stderr == *"has no public IP"* ]]
	[[ $stderr == *"rolling back: stopping the 1 ECS task this run asked for"* ]]
	id=$(sed -n 's/^legion: starting cluster \(legion-[0-9a-f]*\) .*/\1/p' <<<"$stderr")
	[ -z "$(running "$LEGION_ECS_CLUSTER")" ]
	moto_py "
names = [s['Name'] for s in sm.list_secrets()['SecretList']]
assert 'legion/$id' not in names, names
groups = logs.describe_log_groups(logGroupNamePrefix='/legion/$id')['logGroups']
assert groups == [], groups
active = ecs.list_task_definitions(familyPrefix='$id', status='ACTIVE')['taskDefinitionArns']
assert active == [], active
"
	[ ! -e "$LEGION_HOME/clusters/$id.json" ]
}

@test "a size Fargate does not have is rounded up to one it has, and said so" {
	run --separate-stderr legion deploy-master --backend fargate --image example/legion:1 \
		--driver-cores 3 --driver-memory 5g
	echo "$stderr"
	[ "$status" -eq 69 ]
	[[ $stderr == *"legion: 3 vCPU with 6144 MiB is not a Fargate size: using 4 vCPU and 8192 MiB"* ]]
	id=$(sed -n 's/^legion: starting cluster \(legion-[0-9a-f]*\) .*/\1/p' <<<"$stderr")
	moto_py "
td = ecs.list_task_definitions(familyPrefix='$id-master', status='INACTIVE')['taskDefinitionArns'][0]
td = ecs.describe_task_definition(taskDefinition=td)['taskDefinition']
assert (td['cpu'], td['memory']) == ('4096', '8192'), (td['cpu'], td['memory'])"
}

@test "no subnets or no execution role: exit 78 naming the variable, before any request; the options stand in" {
	unset LEGION_AWS_SUBNETS
	run --separate-stderr legion deploy-master --backend fargate --image example/legion:1
	[ "$status" -eq 78 ]
	[[ $stderr == *"legion: the fargate backend needs LEGION_AWS_SUBNETS=subnet-ID"* ]]
	moto_env
	unset LEGION_AWS_EXECUTION_ROLE
	run --separate-stderr legion deploy-master --backend fargate --image example/legion:1
	[ "$status" -eq 78 ]
	[[ $stderr == *"needs LEGION_AWS_EXECUTION_ROLE=arn:aws:iam::ACCOUNT:role/NAME"* ]]
	moto_py "
arns = ecs.list_clusters()['clusterArns']
assert not any(a.endswith('/$LEGION_ECS_CLUSTER') for a in arns), arns"
	# the options stand in for the variables
	unset LEGION_AWS_SUBNETS
	run --separate-stderr legion deploy-master --backend fargate --image example/legion:1 \
		--subnets "$MOTO_SUBNET" --execution-role arn:aws:iam::123456789012:role/other
	echo "$stderr"
	[ "$status" -eq 69 ]
	[[ $stderr == *"has no public IP"* ]]
	id=$(sed -n 's/^legion: starting cluster \(legion-[0-9a-f]*\) .*/\1/p' <<<"$stderr")
	moto_py "
td = ecs.list_task_definitions(familyPrefix='$id-master', status='INACTIVE')['taskDefinitionArns'][0]
assert ecs.describe_task_definition(taskDefinition=td)['taskDefinition']['executionRoleArn'] \\
    == 'arn:aws:iam::123456789012:role/other'"
}

@test "status lists seeded Legion tasks as clusters, with the same schema as the other backends" {
	seed "$LEGION_ECS_CLUSTER" legion-0000000a legion-0000000a-master:master \
		legion-0000000a-r1-w0:worker legion-0000000a-r1-w1:worker
	seed "$LEGION_ECS_CLUSTER" legion-0000000b legion-0000000b-master:master
	run --separate-stderr legion status --backend fargate
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.clusters | map(.cluster) | join(",")' <<<"$output")" = legion-0000000a,legion-0000000b ]
	c='.clusters[0]'
	[ "$(jq -r "$c.backend" <<<"$output")" = fargate ]
	[ "$(jq -r "$c.master.name" <<<"$output")" = legion-0000000a-master ]
	[ "$(jq -r "$c.master.state" <<<"$output")" = Running ]
	[[ $(jq -r "$c.master.ip" <<<"$output") =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]
	[ "$(jq -r "$c.workers | map(.name) | join(\",\")" <<<"$output")" = legion-0000000a-r1-w0,legion-0000000a-r1-w1 ]
	run --separate-stderr legion status --backend fargate legion-0000000b
	[ "$(jq -r '.clusters | map(.cluster) | join(",")' <<<"$output")" = legion-0000000b ]
	run --separate-stderr legion status --backend fargate -o table
	[[ ${lines[1]} == legion-0000000a*legion-0000000a-master*master*Running* ]]
}

@test "delete stops a cluster's tasks and deletes its secret and log group" {
	seed "$LEGION_ECS_CLUSTER" legion-0000000c legion-0000000c-master:master \
		legion-0000000c-r1-w0:worker
	seed "$LEGION_ECS_CLUSTER" legion-0000000d legion-0000000d-master:master
	moto_py "
sm.create_secret(Name='legion/legion-0000000c', SecretString='{}')
logs.create_log_group(logGroupName='/legion/legion-0000000c')"
	run --separate-stderr legion delete --backend fargate legion-0000000c
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(running "$LEGION_ECS_CLUSTER")" = legion-0000000d-master ]
	moto_py "
assert 'legion/legion-0000000c' not in [s['Name'] for s in sm.list_secrets()['SecretList']]
assert logs.describe_log_groups(logGroupNamePrefix='/legion/legion-0000000c')['logGroups'] == []"
}

@test "--keep-logs (or LEGION_AWS_KEEP_LOGS=1) keeps a deleted cluster's log group" {
	seed "$LEGION_ECS_CLUSTER" legion-0000000e legion-0000000e-master:master
	seed "$LEGION_ECS_CLUSTER" legion-0000001e legion-0000001e-master:master
	moto_py "
logs.create_log_group(logGroupName='/legion/legion-0000000e')
logs.create_log_group(logGroupName='/legion/legion-0000001e')"
	run --separate-stderr legion delete --backend fargate --keep-logs legion-0000000e
	[ "$status" -eq 0 ]
	LEGION_AWS_KEEP_LOGS=1 run --separate-stderr legion delete --backend fargate legion-0000001e
	[ "$status" -eq 0 ]
	[ -z "$(running "$LEGION_ECS_CLUSTER")" ]
	moto_py "
assert len(logs.describe_log_groups(logGroupNamePrefix='/legion/legion-0000000e')['logGroups']) == 1
assert len(logs.describe_log_groups(logGroupNamePrefix='/legion/legion-0000001e')['logGroups']) == 1"
}

@test "gc stops workers whose master is gone and leaves a cluster whose master runs" {
	seed "$LEGION_ECS_CLUSTER" legion-0000000f legion-0000000f-master:master \
		legion-0000000f-r1-w0:worker
	seed "$LEGION_ECS_CLUSTER" legion-00000010 legion-00000010-master:master \
		legion-00000010-r1-w0:worker
	moto_py "
arns = ecs.list_tasks(cluster='$LEGION_ECS_CLUSTER', startedBy='legion-0000000f-master')['taskArns']
ecs.stop_task(cluster='$LEGION_ECS_CLUSTER', task=arns[0])"
	run --separate-stderr legion gc --backend fargate
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[[ $(jq -r '.deleted | join(",")' <<<"$output") == *legion-0000000f-r1-w0* ]]
	[ "$(running "$LEGION_ECS_CLUSTER" | tr '\n' ' ')" = "legion-00000010-master legion-00000010-r1-w0 " ]
}

@test "logs --container prints the task's CloudWatch log stream" {
	seed "$LEGION_ECS_CLUSTER" legion-00000011 legion-00000011-master:master
	moto_py "
arn = ecs.list_tasks(cluster='$LEGION_ECS_CLUSTER', startedBy='legion-00000011-master')['taskArns'][0]
logs.create_log_group(logGroupName='/legion/legion-00000011')
stream = 'legion/spark/' + arn.split('/')[-1]
logs.create_log_stream(logGroupName='/legion/legion-00000011', logStreamName=stream)
logs.put_log_events(logGroupName='/legion/legion-00000011', logStreamName=stream,
    logEvents=[{'timestamp': int(time.time() * 1000) + i, 'message': 'line %d' % i} for i in range(3)])"
	run --separate-stderr legion logs --backend fargate legion-00000011 --container legion-00000011-master
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "line 0
line 1
line 2" ]
}

@test "status with a refused key: exit 77 with AWS's reason" {
	export AWS_SECRET_ACCESS_KEY=wrong-secret
	run --separate-stderr legion status --backend fargate
	echo "$stderr"
	[ "$status" -eq 77 ]
	[[ $stderr == *"ECS ListTasks: HTTP 4"*"Signature"* ]]
}

# proxy TARGET COUNT: the fault proxy in front of moto, throttling COUNT TARGET calls;
# sets AWS_ENDPOINT_URL_ECS to it and PROXY_PID, PROXY_LOG.
proxy() {
	local port
	port=$(free_port)
	PROXY_LOG=$BATS_TEST_TMPDIR/proxy.log
	: >"$PROXY_LOG"
	"$MOTO_PY" "$BATS_TEST_DIRNAME/aws_fault_proxy.py" "$port" "$MOTO_URL" "$1" "$2" "$PROXY_LOG" 3>&- &
	PROXY_PID=$!
	wait_for curl -s -o /dev/null -X POST "http://127.0.0.1:$port/"
	: >"$PROXY_LOG"
	export AWS_ENDPOINT_URL_ECS=http://127.0.0.1:$port
}

@test "ECS throttling (400 ThrottlingException) is retried with backoff until it passes" {
	seed "$LEGION_ECS_CLUSTER" legion-00000012 legion-00000012-master:master
	proxy ListTasks 3
	run --separate-stderr legion status --backend fargate
	kill "$PROXY_PID"
	echo "$output $stderr"
	cat "$PROXY_LOG"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.clusters[0].cluster' <<<"$output")" = legion-00000012 ]
	[ "$(grep -c '^throttled ListTasks$' "$PROXY_LOG")" -eq 3 ]
	grep -q '^passed ListTasks$' "$PROXY_LOG"
}

@test "throttling that does not end: exit 75 after a bounded number of tries" {
	proxy ListTasks 1000
	run --separate-stderr legion status --backend fargate
	kill "$PROXY_PID"
	echo "$stderr"
	[ "$status" -eq 75 ]
	[[ $stderr == *"ECS ListTasks: HTTP 400 ThrottlingException: Rate exceeded"* ]]
	[ "$(grep -c '^throttled ListTasks$' "$PROXY_LOG")" -eq 6 ]
}

@test "Ctrl-C while RunTask is being retried: exit 130, no task, no secret, no log group left" {
	proxy RunTask 1000
	legion deploy-master --backend fargate --image example/legion:1 \
		>"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	local pid=$! rc=0
	wait_for -t 30 grep -q '^throttled RunTask$' "$PROXY_LOG"
	kill -INT "$pid"
	wait "$pid" || rc=$?
	kill "$PROXY_PID"
	cat "$BATS_TEST_TMPDIR/err"
	[ "$rc" -eq 130 ]
	id=$(sed -n 's/^legion: starting cluster \(legion-[0-9a-f]*\) .*/\1/p' "$BATS_TEST_TMPDIR/err")
	[ -n "$id" ]
	unset AWS_ENDPOINT_URL_ECS
	[ -z "$(running "$LEGION_ECS_CLUSTER")" ]
	moto_py "
names = [s['Name'] for s in sm.list_secrets()['SecretList']]
assert 'legion/$id' not in names, names
groups = logs.describe_log_groups(logGroupNamePrefix='/legion/$id')['logGroups']
assert groups == [], groups
active = ecs.list_task_definitions(familyPrefix='$id', status='ACTIVE')['taskDefinitionArns']
assert active == [], active
"
	[ ! -e "$LEGION_HOME/clusters/$id.json" ]
}

@test "submit whose master cannot be reached is rolled back like deploy-master: exit 69, nothing left" {
	printf 'print("never runs")\n' >"$BATS_TEST_TMPDIR/app.py"
	run --separate-stderr legion submit --backend fargate --image example/legion:1 \
		--num-executors 2 "$BATS_TEST_TMPDIR/app.py"
	echo "$stderr"
	[ "$status" -eq 69 ]
	[[ $stderr == *"rolling back"* ]]
	id=$(sed -n 's/^legion: starting cluster \(legion-[0-9a-f]*\) .*/\1/p' <<<"$stderr")
	[ -n "$id" ]
	[ -z "$(running "$LEGION_ECS_CLUSTER")" ]
	moto_py "
names = [s['Name'] for s in sm.list_secrets()['SecretList']]
assert 'legion/$id' not in names, names
groups = logs.describe_log_groups(logGroupNamePrefix='/legion/$id')['logGroups']
assert groups == [], groups
"
	[ ! -e "$LEGION_HOME/clusters/$id.json" ]
	[ -z "$(ls "$LEGION_HOME/clusters" 2>/dev/null)" ]
}
