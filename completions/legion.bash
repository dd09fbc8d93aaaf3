# bash completion for legion: commands, each command's options, the values of
# --backend and --output, cluster ids and container names from `legion status -o table`
# (the table, not the JSON: it does not ask each master for its jobs), and files for
# the application. Needs nothing but bash (not the bash-completion package).
# t/docs.bats checks the option lists below against `legion help COMMAND`.

_legion_commands="submit deploy-master status logs delete gc auth ui prices version help"

# The options of a command; those taking a value end in '='.
_legion_options() {
	local any="--config= -v --verbose -h --help"
	local azure="--backend= --location= --resource-group= --subscription= --cloud="
	case $1 in
	submit)
		echo "$azure --num-executors= --executor-cores= --executor-memory=" \
			"--driver-cores= --driver-memory= --master= --keep-alive" \
			"-c --conf= --py-files= --jars= --class= --name= --image= --idle-timeout=" \
			"--detach --force --timings --file= --parallel= --subnet= --identity= --storage-auth= --subnets=" \
			"--security-groups= --execution-role= --keep-logs --files= --archives=" \
			"--packages= --repositories= --exclude-packages= --properties-file=" \
			"--driver-java-options= --driver-class-path= --driver-library-path=" \
			"--total-executor-cores= --deploy-mode= --log-level= --price-file=" \
			"--max-replacements= --max-executors= --min-executors= $any"
		;;
	deploy-master)
		echo "$azure --driver-cores= --driver-memory= --image=" \
			"--idle-timeout= --subnet= --identity= --storage-auth= --subnets= --security-groups=" \
			"--execution-role= --keep-logs $any"
		;;
	status) echo "$azure -o= --output= --all --price-file= $any" ;;
	logs) echo "$azure --job= --container= --tail= --follow $any" ;;
	delete) echo "$azure --parallel= --keep-logs $any" ;;
	gc) echo "$azure --parallel= --older-than= --keep-logs --dry-run $any" ;;
	auth) echo "--backend= --location= --subscription= --cloud= $any" ;;
	ui) echo "--port= $any" ;;
	prices) echo "--location= --cloud= $any" ;;
	esac
}

# _legion_table CMD-WORD: `legion status -o table` with the line's backend, resource
# group and subscription; nothing when it fails.
_legion_table() {
	local bin=${COMP_WORDS[0]} i w args=()
	[[ $bin == */* && -x $bin ]] || bin=legion
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--backend | --resource-group | --subscription)
			if [[ ${COMP_WORDS[i + 1]} == = ]]; then
				args+=("$w=${COMP_WORDS[i + 2]}")
			else
				args+=("$w=${COMP_WORDS[i + 1]}")
			fi
			;;
		esac
	done
	"$bin" status -o table "${args[@]}" 2>/dev/null </dev/null
}

_legion_clusters() {
	_legion_table | sed -n 's/^\(legion-[0-9a-f]\{8\}\) .*/\1/p' | sort -u
}

# Container names, of the cluster on the line when there is one.
_legion_containers() {
	local cluster=$1
	_legion_table | while read -r cl name _; do
		[[ $cl == legion-* && ( -z $cluster || $cl == "$cluster" ) ]] && echo "$name"
	done
}

_legion() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local i w cmd= ci=0
	COMPREPLY=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-v | --verbose) ;;
		*)
			cmd=${COMP_WORDS[i]}
			ci=$i
			break
			;;
		esac
	done
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-v --verbose -h --help --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$_legion_commands" -- "$cur"))
		fi
		return 0
	fi
	case $cmd in
	help | --help | -h)
		((COMP_CWORD == ci + 1)) &&
			COMPREPLY=($(compgen -W "$_legion_commands" -- "$cur"))
		return 0
		;;
	submit | deploy-master | status | logs | delete | gc | auth | ui | prices) ;;
	*) return 0 ;;
	esac
	local opts
	opts=$(_legion_options "$cmd")

	# The value of an option: --opt VALUE, --opt=VALUE (bash splits at '=').
	local opt=
	if [[ $cur == = ]]; then
		opt=$prev
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD >= 2)); then
		opt=${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ " $opts " == *" $prev= "* ]]; then
		opt=$prev
	fi
	if [[ -n $opt ]]; then
		case $opt in
		--backend) COMPREPLY=($(compgen -W "local aci fargate" -- "$cur")) ;;
		-o | --output) COMPREPLY=($(compgen -W "json table" -- "$cur")) ;;
		--keep-alive) COMPREPLY=($(compgen -W "true false" -- "$cur")) ;;
		--master) COMPREPLY=($(compgen -W "$(_legion_clusters)" -- "$cur")) ;;
		--container)
			local cluster=
			for ((i = ci + 1; i < COMP_CWORD; i++)); do
				[[ ${COMP_WORDS[i]} == legion-???????? ]] && cluster=${COMP_WORDS[i]}
			done
			COMPREPLY=($(compgen -W "$(_legion_containers "$cluster")" -- "$cur"))
			;;
		--file | --py-files | --jars | --files | --archives | --properties-file | --price-file)
			COMPREPLY=($(compgen -f -- "$cur"))
			;;
		--deploy-mode) COMPREPLY=($(compgen -W "client" -- "$cur")) ;;
		--storage-auth) COMPREPLY=($(compgen -W "key sp msi" -- "$cur")) ;;
		--log-level) COMPREPLY=($(compgen -W "ALL TRACE DEBUG INFO WARN ERROR FATAL OFF" -- "$cur")) ;;
		esac
		return 0
	fi
	# `--keep-alive true` (the seed's spelling) or the application
	[[ $prev == --keep-alive ]] && COMPREPLY=($(compgen -W "true false" -- "$cur"))

	# The positional arguments so far (skipping options and their values).
	local npos=0
	for ((i = ci + 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		=) ((i++)) ;;
		--keep-alive)
			[[ ${COMP_WORDS[i + 1]} == true || ${COMP_WORDS[i + 1]} == false ]] && ((i++))
			;;
		-*)
			[[ " $opts " == *" $w= "* && ${COMP_WORDS[i + 1]} != = ]] && ((i++))
			;;
		*) ((npos++)) ;;
		esac
	done
	if [[ $cmd == submit ]] && ((npos > 0)); then # the application's own arguments
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "${opts//=/}" -- "$cur"))
		return 0
	fi
	case $cmd in
	submit) COMPREPLY+=($(compgen -f -- "$cur")) ;;
	status | logs | delete | ui)
		((npos == 0)) && COMPREPLY=($(compgen -W "$(_legion_clusters)" -- "$cur"))
		;;
	esac
	return 0
}

complete -o filenames -F _legion legion
