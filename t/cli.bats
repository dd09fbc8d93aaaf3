#!/usr/bin/env bats
# t/cli.bats: the command line as a user meets it: help, version, the static binary,
# and every kind of bad input refused with exit 64, one line saying what is wrong and
# where to look, and nothing on stdout. Leaves out what commands do once parsed.

load test_helper

setup() {
	APP=$BATS_TEST_TMPDIR/app.py
	echo 'print("hi")' >"$APP"
}

# usage_error MESSAGE HINT ARGS...: legion ARGS exits 64 with exactly MESSAGE and HINT
# on stderr and nothing on stdout.
usage_error() {
	local want=$1 hint=$2
	shift 2
	run --separate-stderr "$LEGION" "$@"
	echo "legion $*"
	echo "exit $status; stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 64 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 2 ]
	[ "${stderr_lines[0]}" = "$want" ]
	[ "${stderr_lines[1]}" = "$hint" ]
}

# parsed OPTION ARGS...: legion ARGS gets past option parsing. The local backend then
# fails at once (LEGION_HOME cannot be created) instead of starting a cluster; what
# counts is that the exit is not 64 and stderr does not complain about OPTION.
parsed() {
	local opt=$1
	shift
	touch "$BATS_TEST_TMPDIR/not-a-dir"
	LEGION_HOME=$BATS_TEST_TMPDIR/not-a-dir/home run --separate-stderr "$LEGION" "$@"
	echo "legion $*"
	echo "exit $status; stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -ne 64 ]
	[ "$status" -ne 0 ]
	[[ $stderr != *"'$opt"* && $stderr != *"$opt: "* ]]
	[[ $stderr != *"Try 'legion"* ]]
}

@test "legion --help lists every command and the exit codes on stdout" {
	run --separate-stderr "$LEGION" --help
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${lines[0]}" = "usage: legion COMMAND [OPTIONS] [ARGS]" ]
	for c in submit deploy-master status logs delete gc auth version help; do
		printf '%s\n' "${lines[@]}" | grep -q "^  $c  *[a-z]" || {
			echo "command $c missing"
			false
		}
	done
	for code in "64 usage" "65 bad input data" "69 backend" "75 temporary failure" \
		"77 credentials refused" "78 configuration missing"; do
		[[ $output == *"$code"* ]] || {
			echo "exit code '$code' not documented"
			false
		}
	done
}

@test "legion -h and legion help print the same help as --help" {
	run --separate-stderr "$LEGION" --help
	local want=$output
	run --separate-stderr "$LEGION" -h
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
	run --separate-stderr "$LEGION" help
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
}

@test "legion with no command prints the usage on stderr and exits 64" {
	run --separate-stderr "$LEGION"
	[ "$status" -eq 64 ]
	[ -z "$output" ]
	[ "${stderr_lines[0]}" = "usage: legion COMMAND [OPTIONS] [ARGS]" ]
}

@test "legion submit --help shows every documented submit option" {
	run --separate-stderr "$LEGION" submit --help
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${lines[0]}" = "usage: legion submit [OPTIONS] APP [APP-ARGS...]" ]
	for o in backend num-executors executor-cores executor-memory driver-cores \
		driver-memory location resource-group master keep-alive conf py-files jars \
		class name image idle-timeout detach file verbose help; do
		printf '%s\n' "${lines[@]}" | grep -Eq -- "^  (-., )? *--$o( |$)" || {
			echo "--$o missing"
			false
		}
	done
}

@test "legion help submit is legion submit --help" {
	run --separate-stderr "$LEGION" submit --help
	local want=$output
	run --separate-stderr "$LEGION" help submit
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$output" = "$want" ]
}

@test "every command has --help with its usage line on stdout" {
	for c in submit deploy-master status logs delete gc auth; do
		run --separate-stderr "$LEGION" "$c" --help
		echo "$c: exit $status: ${lines[0]:-}"
		[ "$status" -eq 0 ]
		[ -z "$stderr" ]
		[[ ${lines[0]} == "usage: legion $c "* ]]
		[[ $output == *"--help"* ]]
	done
}

@test "legion help of an unknown command exits 64" {
	usage_error "legion: help: 'frob' is not a command" "Try 'legion --help'." help frob
}

@test "legion version prints exactly 'legion 0.1.0'" {
	run --separate-stderr "$LEGION" version
	[ "$status" -eq 0 ]
	[ "$output" = "legion 0.1.0" ]
	[ -z "$stderr" ]
	run --separate-stderr "$LEGION" --version
	[ "$status" -eq 0 ]
	[ "$output" = "legion 0.1.0" ]
}

@test "the legion binary is statically linked" {
	[ -z "${LEGION_BIN:-}" ] || skip "LEGION_BIN=$LEGION_BIN: static linking is the musl build's property"
	run file -L "$ROOT/legion"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"statically linked"* ]]
}

@test "an unknown command exits 64" {
	usage_error "legion: 'frob' is not a command" "Try 'legion --help'." frob
}

@test "an unknown long option exits 64" {
	usage_error "legion: submit: unknown option '--frob'" "Try 'legion submit --help'." \
		submit --frob "$APP"
}

@test "an unknown short option exits 64" {
	usage_error "legion: status: unknown option '-x'" "Try 'legion status --help'." status -x
}

@test "an option without its value exits 64" {
	usage_error "legion: submit: option '--num-executors' needs a value" \
		"Try 'legion submit --help'." submit --num-executors
}

@test "--num-executors -1 exits 64" {
	usage_error "legion: submit: --num-executors: '-1' is not a whole number from 1 to 256" \
		"Try 'legion submit --help'." submit --num-executors -1 "$APP"
}

@test "--num-executors 0 exits 64" {
	usage_error "legion: submit: --num-executors: '0' is not a whole number from 1 to 256" \
		"Try 'legion submit --help'." submit --num-executors 0 "$APP"
}

@test "--num-executors abc exits 64" {
	usage_error "legion: submit: --num-executors: 'abc' is not a whole number from 1 to 256" \
		"Try 'legion submit --help'." submit --num-executors abc "$APP"
}

@test "--executor-memory 8x exits 64" {
	usage_error "legion: submit: --executor-memory: '8x' is not a size from 1m to 14g (like 512m, 8g, 1.5g)" \
		"Try 'legion submit --help'." submit --executor-memory 8x "$APP"
}

@test "--executor-memory 20g (over a container's 16 GB) exits 64" {
	usage_error "legion: submit: --executor-memory: '20g' is not a size from 1m to 14g (like 512m, 8g, 1.5g)" \
		"Try 'legion submit --help'." submit --executor-memory 20g "$APP"
}

@test "--executor-memory 1e3m (an exponent) exits 64" {
	usage_error "legion: submit: --executor-memory: '1e3m' is not a size from 1m to 14g (like 512m, 8g, 1.5g)" \
		"Try 'legion submit --help'." submit --executor-memory 1e3m "$APP"
}

@test "--executor-cores 5 (over a container's 4) exits 64" {
	usage_error "legion: submit: --executor-cores: '5' is not a whole number from 1 to 4" \
		"Try 'legion submit --help'." submit --executor-cores 5 "$APP"
}

@test "--backend nope exits 64" {
	usage_error "legion: submit: --backend: 'nope' is not a backend (local, aci, fargate)" \
		"Try 'legion submit --help'." submit --backend nope "$APP"
}

@test "--conf without = exits 64" {
	usage_error "legion: submit: --conf: 'noequals' is not KEY=VALUE" \
		"Try 'legion submit --help'." submit --conf noequals "$APP"
}

@test "--idle-timeout 0 exits 64" {
	usage_error "legion: submit: --idle-timeout: '0' is not a duration from 1s to 7d" \
		"Try 'legion submit --help'." submit --idle-timeout 0 "$APP"
}

@test "submit without an app exits 64" {
	usage_error "legion: submit: no application: give APP (a .py file or a jar)" \
		"Try 'legion submit --help'." submit
}

@test "an app that does not exist exits 64" {
	usage_error "legion: submit: application '$BATS_TEST_TMPDIR/nope.py': No such file or directory" \
		"Try 'legion submit --help'." submit "$BATS_TEST_TMPDIR/nope.py"
}

@test "an app that cannot be read (mode 000) exits 64" {
	chmod 000 "$APP"
	[ ! -r "$APP" ] || skip "running as root: a mode-000 file is still readable"
	usage_error "legion: submit: application '$APP': Permission denied" \
		"Try 'legion submit --help'." submit "$APP"
}

@test "an app that is a directory exits 64" {
	mkdir "$BATS_TEST_TMPDIR/app-dir"
	usage_error "legion: submit: application '$BATS_TEST_TMPDIR/app-dir' is not a regular file" \
		"Try 'legion submit --help'." submit "$BATS_TEST_TMPDIR/app-dir"
}

@test "an app that is a dangling symlink exits 64" {
	ln -s "$BATS_TEST_TMPDIR/gone.py" "$BATS_TEST_TMPDIR/link.py"
	usage_error "legion: submit: application '$BATS_TEST_TMPDIR/link.py': No such file or directory" \
		"Try 'legion submit --help'." submit "$BATS_TEST_TMPDIR/link.py"
}

@test "an option of another command exits 64" {
	usage_error "legion: status: option '--num-executors' does not apply to status" \
		"Try 'legion status --help'." status --num-executors 2
}

@test "the seed's --file APP spelling is accepted" {
	parsed --file submit --file "$APP"
}

@test "the seed's --keep-alive true spelling is accepted" {
	parsed --keep-alive submit --keep-alive true "$APP"
	parsed --keep-alive submit --keep-alive "$APP"
	parsed --keep-alive submit --keep-alive=false "$APP"
}

@test "sizes 8g, 512m, 1.5g and 2048M are accepted" {
	for size in 8g 512m 1.5g 2048M; do
		parsed --executor-memory submit --executor-memory "$size" --driver-memory "$size" "$APP"
	done
}

@test "-v is accepted after the command and before it" {
	parsed -v submit -v "$APP"
	parsed -v -v submit "$APP"
}

@test "app arguments after the app are the app's, not legion's" {
	parsed --num-executors submit "$APP" --num-executors abc --frob
}

@test "an unknown backend is a usage error naming the known ones, from --backend or LEGION_BACKEND" {
	run --separate-stderr legion status --backend acii
	[ "$status" -eq 64 ]
	[[ $stderr == *"--backend: 'acii' is not a backend (local, aci, fargate)"* ]]
	LEGION_BACKEND=acii run --separate-stderr legion status
	[ "$status" -eq 64 ]
	[[ $stderr == *"LEGION_BACKEND: 'acii' is not a backend (local, aci, fargate)"* ]]
	[ -z "$output" ]
	LEGION_BACKEND=acii run --separate-stderr legion status --backend local
	[ "$status" -eq 0 ]
}

@test "no HOME, XDG_STATE_HOME or LEGION_HOME: exit 78 naming what to set, no /tmp fallback" {
	run --separate-stderr env -u HOME -u XDG_STATE_HOME -u LEGION_HOME "$LEGION" status
	[ "$status" -eq 78 ]
	[[ $stderr == *"no state folder: set HOME, XDG_STATE_HOME or LEGION_HOME"* ]]
	[ -z "$output" ]
}

@test "a state folder others may write to, or another user's, is refused with exit 78" {
	mkdir -p "$LEGION_HOME"
	refused() {
		run --separate-stderr legion status
		[ "$status" -eq 78 ]
		[[ $stderr == *"$1"* ]]
	}
	chmod 0777 "$LEGION_HOME"
	refused "refusing state folder $LEGION_HOME: others may write to it"
	chmod 0700 "$LEGION_HOME"
	mkdir -p "$LEGION_HOME/groups"
	chmod 0722 "$LEGION_HOME/groups"
	refused "refusing state folder $LEGION_HOME/groups"
	chmod 0700 "$LEGION_HOME/groups"
	run --separate-stderr legion status
	[ "$status" -eq 0 ]
	if [ "$(id -u)" = 0 ]; then
		chown 65534 "$LEGION_HOME"
		refused "owned by uid 65534, not by this user (0)"
	fi
}

@test "a planted spec.json naming a path, or a pid file of another session, is not followed" {
	local g=$LEGION_HOME/groups/legion-aaaaaaaa-master victim=$LEGION_HOME/../victim
	mkdir -p "$g" "$victim"
	chmod 0700 "$LEGION_HOME" "$LEGION_HOME/groups"
	echo keep >"$victim/file"
	printf '{"name":"../../victim","tags":{"legion-cluster":"legion-aaaaaaaa","legion-role":"master"}}' \
		>"$g/spec.json"
	run --separate-stderr legion status
	[ "$status" -eq 0 ]
	[ "$output" = '{"clusters":[]}' ]
	run --separate-stderr legion delete legion-aaaaaaaa
	[ "$status" -eq 0 ]
	[ -e "$victim/file" ]
	# a group whose pid file names a process that merely leads some session
	# (a duration of its own: other suites' sleeps run beside this one under bats --jobs)
	local nap=300.$$$RANDOM
	setsid sleep "$nap" >/dev/null 2>&1 3>&- &
	local bystander
	wait_for -t 5 eval 'bystander=$(pgrep -n -f "^sleep $nap\$")'
	local h=$LEGION_HOME/groups/legion-bbbbbbbb-master
	mkdir -p "$h"
	printf '{"name":"legion-bbbbbbbb-master","tags":{"legion-cluster":"legion-bbbbbbbb","legion-role":"master"}}' \
		>"$h/spec.json"
	echo "$bystander" >"$h/pid"
	run --separate-stderr legion status
	[ "$(jq -r '.clusters[0].master.state' <<<"$output")" = Stopped ]
	run --separate-stderr legion delete legion-bbbbbbbb
	[ "$status" -eq 0 ]
	kill -0 "$bystander"
	kill "$bystander"
}

@test "config file: flags > environment > file > defaults; bad lines are exit 78 naming file and line" {
	mkdir -p "$XDG_CONFIG_HOME/legion"
	local f=$XDG_CONFIG_HOME/legion/config
	printf '# defaults\n\nbackend nope\n' >"$f"
	run --separate-stderr legion status # the file's backend is used ...
	[ "$status" -eq 64 ]
	[[ $stderr == *"'nope' is not a backend (local, aci, fargate)"* ]]
	run --separate-stderr legion status --backend local # a flag beats the file
	[ "$status" -eq 0 ]
	LEGION_BACKEND=local run --separate-stderr legion status # so does the environment
	[ "$status" -eq 0 ]
	printf 'backend local\n' >"$BATS_TEST_TMPDIR/other"
	run --separate-stderr legion status --config "$BATS_TEST_TMPDIR/other"
	[ "$status" -eq 0 ]
	# settings of other commands are skipped; spark.* keys are --conf
	printf 'num-executors 3\nspark.sql.shuffle.partitions 8\n' >"$f"
	run --separate-stderr legion status
	[ "$status" -eq 0 ]
	printf 'location westus\nexecutor-memory\n' >"$f"
	run --separate-stderr legion status
	[ "$status" -eq 78 ]
	[ "$stderr" = "legion: $f:2: 'executor-memory' has no value (lines are 'key value')" ]
	printf 'colour blue\n' >"$f"
	run --separate-stderr legion status
	[ "$status" -eq 78 ]
	[[ $stderr == "legion: $f:1: 'colour' is not a setting"* ]]
	printf '\nparallel 99\n' >"$f"
	run --separate-stderr legion delete legion-aaaaaaaa
	[ "$status" -eq 78 ]
	[[ $stderr == "legion: $f:2: --parallel: '99' is not a whole number from 1 to 64" ]]
	run --separate-stderr legion status --config "$BATS_TEST_TMPDIR/missing"
	[ "$status" -eq 78 ]
	[[ $stderr == *"unable to read $BATS_TEST_TMPDIR/missing"* ]]
}

@test "the local backend refuses a cluster bigger than this machine, before starting anything; --force overrides" {
	local n=$(($(nproc) + 1))
	run --separate-stderr legion submit --num-executors "$n" "$APP"
	[ "$status" -eq 69 ]
	[[ $stderr == *"$n executors x 1 cores = $n cores, but this machine has $(nproc) (--force starts them anyway)"* ]]
	[ -z "$(ls "$LEGION_HOME/groups" 2>/dev/null)" ]
	[ -z "$(ls "$LEGION_HOME/clusters" 2>/dev/null)" ]
	local mb=$(($(getconf _PHYS_PAGES) * $(getconf PAGESIZE) / 1048576))
	run --separate-stderr legion submit --num-executors 1 --executor-memory 14g \
		--master legion-00000000 "$APP"
	if [ "$mb" -lt 16000 ]; then
		[ "$status" -eq 69 ]
		[[ $stderr == *"MB of memory (executors, JVM overhead and workers' daemons), but this machine has $mb MB"* ]]
	fi
	# with --force the check is skipped: this run gets as far as looking up its cluster
	run --separate-stderr legion submit --force --num-executors "$n" --master legion-00000000 "$APP"
	[ "$status" -eq 78 ]
	[[ $stderr == *"no credentials for cluster legion-00000000"* ]]
}
