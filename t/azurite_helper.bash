# t/azurite_helper.bash: what the suites that run a job against Azurite share
# (t/storage.bats on the local backend, t/image.bats in the image's containers); loaded
# with `load azurite_helper` after ROOT is set.

# wordcount_result_is ENDPOINT WANT: what examples/storage_wordcount.py wrote, read back
# from the storage account at ENDPOINT (t/blob) rather than from the job: container books
# holds out/_SUCCESS and one part blob whose lines are WANT.
wordcount_result_is() {
	run "$ROOT/t/blob" "$1" ls books out/
	[ "$status" -eq 0 ]
	echo "$output"
	[[ $output == *"out/_SUCCESS 0"* ]]
	local part
	part=$(grep -o '^out/part-[^ ]*' <<<"$output")
	[ "$(wc -l <<<"$part")" -eq 1 ]
	run "$ROOT/t/blob" "$1" get books "$part"
	[ "$status" -eq 0 ]
	[ "$output" = "$2" ]
}
