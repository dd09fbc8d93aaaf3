#!/usr/bin/env bats
# t/docs.bats: what documents and installs legion: the man page (lints clean; every
# command, option, exit code and environment variable that `legion help` and the
# README name is in it), the bash and zsh completions (their option lists are the
# binary's, values, cluster ids), and `make install` (every file where it belongs).
# Leaves out what the commands do (cli.bats, local.bats, aci.bats).

load test_helper

MAN=$ROOT/legion.1

# commands: the command names `legion --help` lists.
commands() {
	"$LEGION" --help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p'
}

# options CMD: the options `legion help CMD` lists, one a line (-o and --output apart).
options() {
	"$LEGION" help "$1" | sed -n '/^options:/,$p' | grep -oE '^ +(-[a-z], )?--[a-z-]+' |
		tr ',' '\n' | tr -d ' '
}

# section NAME: the mdoc source of one section (.Sh NAME up to the next .Sh).
section() {
	awk -v s="$1" '/^\.Sh /{on = (substr($0, 5) == s); next} on' "$MAN"
}

# synopsis CMD: the SYNOPSIS lines of `legion CMD` (from .Cm CMD to the next .Nm).
synopsis() {
	section SYNOPSIS | awk -v c="$1" '/^\.Nm/{on = 0} $0 == ".Cm " c {on = 1} on'
}

# complete WORDS...: what the bash completion offers for the last word, sorted, on one
# line; runs in a fresh `bash -c` that only sources completions/legion.bash.
complete_bash() {
	bash -c 'source "$1" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMPREPLY=()
		_legion || exit 1
		if [ "${#COMPREPLY[@]}" -gt 0 ]; then
			printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "
		fi' \
		_ "$ROOT/completions/legion.bash" "$@"
}

# complete_zsh LINE: the matches zsh's completion system offers for LINE, sorted, one a
# line, from an interactive zsh on a pty (zsh/zpty) with completions/ on fpath. The
# matches are caught by wrapping compadd; waits up to 10 s for them.
complete_zsh() {
	local out=$BATS_TEST_TMPDIR/zsh-matches
	rm -f "$out" "$out.ready"
	ZOUT=$out ZLINE=$1 ZFPATH=$ROOT/completions ZPATH=$PATH zsh -f -c '
		zmodload zsh/zpty || exit 1
		zpty z zsh -f -i
		zpty -w z "PATH=${(q)ZPATH}; PS1=; fpath=(${(q)ZFPATH} \$fpath)"
		zpty -w z "autoload -Uz compinit; compinit -u -D"
		zpty -w z "compadd() { local -a m; builtin compadd -O m \"\$@\";" \
			"print -rl -- \$m >>${(q)ZOUT}; builtin compadd \"\$@\"; }"
		zpty -w z "touch ${(q)ZOUT}.ready"
		for i in {1..200}; do [[ -e $ZOUT.ready ]] && break; sleep 0.05; done
		sleep 0.5
		zpty -w -n z "$ZLINE"$'"'"'\t'"'"'
		for i in {1..200}; do [[ -s $ZOUT ]] && break; sleep 0.05; done
		sleep 0.3
		zpty -d z'
	[ -s "$out" ] || return 1
	sort -u "$out"
}

@test "legion.1: mandoc -T lint -W warning prints nothing" {
	command -v mandoc >/dev/null || skip "no mandoc (mk/deps.sh packages installs it)"
	run mandoc -T lint -W warning "$MAN"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# and it renders, with every section a man page reader looks for
	run mandoc -T ascii "$MAN"
	[ "$status" -eq 0 ]
	[[ $output == *"serverless Apache Spark"* ]]
	for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS ENVIRONMENT FILES "EXIT STATUS" \
		EXAMPLES; do
		grep -qx "\.Sh $s" "$MAN" || {
			echo "no section $s"
			false
		}
	done
}

@test "legion.1 documents every command and every option that legion help shows" {
	local cmds c o n common all=0 withopts=()
	cmds=$(commands)
	[ "$(wc -l <<<"$cmds")" -ge 9 ]
	# options every command takes (-v, -h) are in the first synopsis line, the others
	# in their command's synopsis
	for c in $cmds; do
		[ -z "$(options "$c")" ] || withopts+=("$c")
	done
	[ "${#withopts[@]}" -eq 9 ]
	common=$(for c in "${withopts[@]}"; do options "$c" | sort -u; done | sort | uniq -c |
		awk -v n="${#withopts[@]}" '$1 == n {print $2}')
	[[ $common == *--help* && $common == *--verbose* ]]
	for c in $cmds; do
		section COMMANDS | grep -q "^\.It Cm $c\b" || {
			echo "command $c: no .It Cm $c under COMMANDS"
			false
		}
		section SYNOPSIS | grep -qx "\.Cm $c\b.*" || {
			echo "command $c: not in the SYNOPSIS"
			false
		}
		for o in $(options "$c"); do
			all=$((all + 1))
			n=${o#-}
			# an .It entry under OPTIONS: `.It Fl -backend ...` or `.It Fl o ...`
			section OPTIONS | grep -E '^\.It ' | grep -qE "(Fl|,) $n( |$)" || {
				echo "option $o (of $c) is not documented under OPTIONS"
				false
			}
			grep -qx -- "$o" <<<"$common" && continue
			synopsis "$c" | grep -qE "(Fl|\|) ${n}( |$)" || {
				echo "option $o is not in the synopsis of legion $c"
				false
			}
		done
	done
	echo "$all options checked"
	[ "$all" -ge 50 ]
}

@test "legion.1 lists every exit code of legion --help and every variable of the README" {
	local codes code v vars
	codes=$("$LEGION" --help | sed -n '/^Exit status/,$p' | grep -oE '\b[0-9]{2,3}\b' | sort -u)
	[ "$(wc -w <<<"$codes")" -ge 8 ]
	for code in $codes; do
		section "EXIT STATUS" | grep -E '^\.It ' | grep -qw "$code" || {
			echo "exit code $code is not under EXIT STATUS"
			false
		}
	done
	vars=$(sed -n '/^## Configuration/,/^## /p' "$ROOT/README.md" | grep '^| `' |
		cut -d'|' -f2 | grep -oE '[A-Z][A-Z0-9_]+[A-Z0-9]')
	[ "$(wc -w <<<"$vars")" -ge 15 ]
	for v in $vars; do
		section ENVIRONMENT | grep -E '^\.It Ev ' | grep -qw "$v" || {
			echo "variable $v (README's Configuration) is not under ENVIRONMENT"
			false
		}
	done
}

@test "bash completion: commands, options, --backend's and --output's values" {
	run bash -c 'source "$1" && complete -p legion' _ "$ROOT/completions/legion.bash"
	[ "$status" -eq 0 ]
	[[ $output == *"-F _legion legion"* ]]

	run complete_bash legion sub
	[ "$output" = "submit " ]
	run complete_bash legion ""
	[ "$output" = "auth delete deploy-master gc help logs prices status submit ui version " ]
	run complete_bash legion -v de
	[ "$output" = "delete deploy-master " ]
	run complete_bash legion submit --back
	[ "$output" = "--backend " ]
	run complete_bash legion submit --backend ""
	[ "$output" = "aci fargate local " ]
	# bash splits --backend=VALUE at '='
	run complete_bash legion gc --backend = ""
	[ "$output" = "aci fargate local " ]
	run complete_bash legion status --backend = l
	[ "$output" = "local " ]
	run complete_bash legion status -o ""
	[ "$output" = "json table " ]
	run complete_bash legion status --output t
	[ "$output" = "table " ]
	run complete_bash legion help de
	[ "$output" = "delete deploy-master " ]
	run complete_bash legion submit --keep-alive = ""
	[ "$output" = "false true " ]
	# after the application, the words are its own: no legion options
	run complete_bash legion submit --conf a = b app.py --
	[ -z "$output" ]
	# the application is a file
	touch "$BATS_TEST_TMPDIR/job-one.py"
	run complete_bash legion submit --num-executors 2 "$BATS_TEST_TMPDIR/job-o"
	[ "$output" = "$BATS_TEST_TMPDIR/job-one.py " ]
}

@test "bash completion offers exactly the options of legion help COMMAND" {
	local c want got n=0
	for c in $(commands); do
		want=$(options "$c" | sort | tr '\n' ' ')
		[ -n "$want" ] || continue
		got=$(complete_bash legion "$c" -)
		echo "$c: want $want"
		echo "$c: got  $got"
		[ "$got" = "$want" ]
		n=$((n + 1))
	done
	[ "$n" -eq 9 ]
}

@test "bash completion: cluster ids and containers from legion status -o table" {
	# a stand-in legion that prints a status table and notes its arguments
	local bin=$BATS_TEST_TMPDIR/bin/legion
	mkdir -p "${bin%/*}"
	cat >"$bin" <<-EOF
		#!/bin/sh
		echo "\$*" >>"$BATS_TEST_TMPDIR/args"
		[ "\$1 \$2 \$3" = "status -o table" ] || exit 64
		printf '%-17s %-32s %-7s\n' CLUSTER NAME ROLE \\
			legion-1a2b3c4d legion-1a2b3c4d-master master \\
			legion-1a2b3c4d legion-1a2b3c4d-w1-0 worker \\
			legion-00ff00ff legion-00ff00ff-master master
	EOF
	chmod +x "$bin"
	run complete_bash "$bin" delete ""
	[ "$output" = "legion-00ff00ff legion-1a2b3c4d " ]
	run complete_bash "$bin" logs legion-1
	[ "$output" = "legion-1a2b3c4d " ]
	run complete_bash "$bin" status --backend aci --resource-group rg ""
	[ "$output" = "legion-00ff00ff legion-1a2b3c4d " ]
	[ "$(tail -n 1 "$BATS_TEST_TMPDIR/args")" = "status -o table --backend=aci --resource-group=rg" ]
	run complete_bash "$bin" submit --master ""
	[ "$output" = "legion-00ff00ff legion-1a2b3c4d " ]
	run complete_bash "$bin" logs legion-1a2b3c4d --container ""
	[ "$output" = "legion-1a2b3c4d-master legion-1a2b3c4d-w1-0 " ]
	# one cluster only: a second one is not offered, nor for commands without one
	run complete_bash "$bin" delete legion-1a2b3c4d ""
	[ -z "$output" ]
	run complete_bash "$bin" gc ""
	[ -z "$output" ]
	# a legion that fails offers nothing (and says nothing)
	printf '#!/bin/sh\necho broken >&2\nexit 78\n' >"$bin"
	run complete_bash "$bin" delete ""
	[ -z "$output" ]
}

@test "zsh completion parses, and compinit finds _legion for legion" {
	command -v zsh >/dev/null || skip "no zsh (mk/deps.sh packages installs it)"
	run zsh -n "$ROOT/completions/_legion"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run zsh -f -c 'fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -D
		print -r -- "$_comps[legion]"' _ "$ROOT/completions"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = _legion ]
	[ "$(head -n 1 "$ROOT/completions/_legion")" = "#compdef legion" ]
}

@test "zsh completion offers commands, options of legion help COMMAND, --backend's values" {
	command -v zsh >/dev/null || skip "no zsh (mk/deps.sh packages installs it)"
	run complete_zsh "legion sub"
	[ "$output" = submit ]
	run complete_zsh "legion submit --back"
	echo "--back: $output"
	[ "$(echo $output)" = --backend ]
	run complete_zsh "legion submit --backend "
	[ "$(echo $output)" = "aci fargate local" ]
	run complete_zsh "legion status --output "
	[ "$(echo $output)" = "json table" ]
	local c want got
	for c in submit deploy-master status logs delete gc auth prices; do
		want=$(options "$c" | grep -- '^--' | sort | tr '\n' ' ')
		got=$(complete_zsh "legion $c --" | grep -- '^--' | sort | tr '\n' ' ')
		echo "$c: want $want"
		echo "$c: got  $got"
		[ "$got" = "$want" ]
	done
}

teardown() {
	if [ -n "${CLUSTER:-}" ]; then
		legion delete "$CLUSTER" >/dev/null 2>&1 || true
	fi
}

@test "completions offer the id of a real cluster on the local backend" {
	[ -x "$ROOT/helpers/legion-jobd" ] || skip "helpers not built (make)"
	[ -d "$LEGION_CACHE_VENV" ] || skip "no Spark venv (make spark)"
	run --separate-stderr legion deploy-master --idle-timeout 60
	[ "$status" -eq 0 ]
	CLUSTER=$(jq -r .cluster <<<"$output")
	[[ $CLUSTER =~ ^legion-[0-9a-f]{8}$ ]]
	run complete_bash legion delete ""
	echo "bash: $output"
	[ "$output" = "$CLUSTER " ]
	run complete_bash legion logs "$CLUSTER" --container ""
	[ "$output" = "$CLUSTER-master " ]
	if command -v zsh >/dev/null; then
		run complete_zsh "legion delete "
		echo "zsh: $output"
		[ "$output" = "$CLUSTER" ]
	fi
	run legion delete "$CLUSTER"
	[ "$status" -eq 0 ]
	CLUSTER=
	run complete_bash legion delete ""
	[ -z "$output" ]
}

@test "make install DESTDIR=... PREFIX=/usr puts every file where it belongs" {
	[ -x "$ROOT/helpers/legion-jobd" ] || skip "helpers not built (make)"
	local root=$BATS_TEST_TMPDIR/root f
	run make -C "$ROOT" --no-print-directory install DESTDIR="$root" PREFIX=/usr
	echo "$output"
	[ "$status" -eq 0 ]
	for f in legion legion-master legion-jobd legion-register legion-idle legion-worker legion-pydriver; do
		[ -x "$root/usr/bin/$f" ] || {
			echo "no executable /usr/bin/$f"
			false
		}
	done
	[ "$(stat -c %a "$root/usr/bin/legion")" = 755 ]
	cmp "$root/usr/share/man/man1/legion.1" "$ROOT/legion.1"
	cmp "$root/usr/share/bash-completion/completions/legion" "$ROOT/completions/legion.bash"
	cmp "$root/usr/share/zsh/site-functions/_legion" "$ROOT/completions/_legion"
	[ "$(stat -c %a "$root/usr/share/man/man1/legion.1")" = 644 ]
	# nothing else: the files above and their folders
	[ "$(find "$root" -type f | wc -l)" -eq 10 ]

	run "$root/usr/bin/legion" --version
	[ "$status" -eq 0 ]
	[ "$output" = "$("$LEGION" --version)" ]
	[[ $output =~ ^legion\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	# the installed helpers run, and the installed completion loads and works
	run "$root/usr/bin/legion-jobd" -h
	[[ $output == *usage* ]]
	run bash -c 'source "$1" && COMP_WORDS=(legion submit --backend "") COMP_CWORD=3 &&
		_legion && echo "${COMPREPLY[*]}"' _ "$root/usr/share/bash-completion/completions/legion"
	[ "$output" = "local aci fargate" ]
	if command -v mandoc >/dev/null; then
		mandoc -T ascii "$root/usr/share/man/man1/legion.1" | grep -q 'legion submit'
	fi
}
