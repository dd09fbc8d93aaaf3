# t/moto_helper.bash: runs moto (the AWS emulator, mk/moto.txt, installed by `make spark`
# into the cache's moto/ venv) on 127.0.0.1 for t/fargate*.bats, with its IAM access
# control on, so every request's SigV4 signature is checked.
#
#   load moto_helper
#   setup_file()    { moto_start; }
#   teardown_file() { moto_stop; }
#
# moto_start: a free port, moto_server on 127.0.0.1, then t/moto_seed.py makes an IAM
#   user with an access key (the first 3 requests are the only unsigned ones moto
#   takes), a role for web identity, a VPC (DNS host names on), a subnet and a security
#   group, and keeps ECS tasks RUNNING until they are stopped. Exports AWS_ENDPOINT_URL,
#   AWS_REGION, MOTO_URL, MOTO_KEY_ID, MOTO_SECRET, MOTO_ROLE_ARN, MOTO_SUBNET, MOTO_SG,
#   MOTO_PID, MOTO_PY (moto's python, with boto3).
# moto_env: the variables a legion under test needs (credentials, subnets, role).
# moto_py CODE [ARGS...]: runs Python (ARGS in sys.argv[1:]) with boto3 clients ecs, sm, logs, ec2 for moto (signed with
#   the seeded key), e.g. moto_py 'print(len(ecs.list_tasks(cluster="c")["taskArns"]))'.
# moto_stop: SIGTERM, then SIGKILL after a deadline.

MOTO_DIR=${MOTO_DIR:-$(dirname "${LEGION_CACHE_VENV:-$HOME/.cache/legion/venv}")/moto}

moto_start() {
	[ -x "$MOTO_DIR/bin/moto_server" ] || skip "moto is not installed: run make spark"
	local port
	port=$(free_port)
	export MOTO_URL=http://127.0.0.1:$port
	INITIAL_NO_AUTH_ACTION_COUNT=3 "$MOTO_DIR/bin/moto_server" -H 127.0.0.1 -p "$port" \
		>"$BATS_FILE_TMPDIR/moto.log" 2>&1 &
	export MOTO_PID=$!
	wait_for -t 60 curl -sf -o /dev/null "$MOTO_URL/moto-api/data.json" || return 1
	export MOTO_PY=$MOTO_DIR/bin/python
	local out
	out=$("$MOTO_PY" "$BATS_TEST_DIRNAME/moto_seed.py" "$MOTO_URL") || return 1
	read -r MOTO_KEY_ID MOTO_SECRET MOTO_ROLE_ARN MOTO_SUBNET MOTO_SG <<<"$out"
	export MOTO_KEY_ID MOTO_SECRET MOTO_ROLE_ARN MOTO_SUBNET MOTO_SG
	export AWS_ENDPOINT_URL=$MOTO_URL AWS_REGION=us-east-1
}

moto_env() {
	export AWS_ACCESS_KEY_ID=$MOTO_KEY_ID AWS_SECRET_ACCESS_KEY=$MOTO_SECRET
	export LEGION_AWS_SUBNETS=$MOTO_SUBNET LEGION_AWS_SECURITY_GROUPS=$MOTO_SG
	export LEGION_AWS_EXECUTION_ROLE=arn:aws:iam::123456789012:role/legion-execution
}

moto_py() {
	"$MOTO_PY" -c "
import boto3, json, sys, time
kw = dict(endpoint_url='$MOTO_URL', region_name='us-east-1',
          aws_access_key_id='$MOTO_KEY_ID', aws_secret_access_key='$MOTO_SECRET')
ecs, sm, logs, ec2 = (boto3.client(s, **kw) for s in ('ecs', 'secretsmanager', 'logs', 'ec2'))
$1" "${@:2}"
}

moto_stop() {
	[ -n "${MOTO_PID:-}" ] || return 0
	kill "$MOTO_PID" 2>/dev/null || true
	wait_for -t 20 eval "! kill -0 $MOTO_PID 2>/dev/null" || kill -9 "$MOTO_PID" 2>/dev/null
	wait "$MOTO_PID" 2>/dev/null || true
}
