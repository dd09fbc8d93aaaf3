# Legion's build: static musl binaries by default; `make asan` builds the same code with
# gcc, ASan and UBSan against Debian's libraries for the C tests.
# Third-party libraries come from Debian's archive via mk/deps.sh into $(DEPS), once.

DEPS ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/legion/deps
VENV ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/legion/venv
PYSPARK_VERSION = 3.5.7
# the local backend's class archives (`make cds`, helpers/cds.c)
CDS_DIR ?= $(HOME)/.cache/legion/cds

CC = musl-gcc
# O: where binaries go (legion, helpers/legion-*, t/*_test); B: objects, generated headers
O = .
B = build/musl
WARN = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Wno-format-truncation
CFLAGS = -Os -ffunction-sections -fdata-sections
CPPFLAGS = -I. -I$(DEPS)/include -I$(DEPS)/include/bearssl
LDFLAGS = -static -Wl,--gc-sections -s -L$(DEPS)/lib
LIBS = -lcurl -lbearssl -lpthread -lm

CORE = util.o json.o http.o
LEGION_OBJS = legion.o config.o manage.o sparkopts.o storage.o submit.o scale.o progress.o timings.o cost.o prices.o status.o ui.o auth.o azcli.o jwt.o cert.o cluster.o aci.o arm.o local.o backend.o tls.o proc.o $(CORE)
LEGION_OBJS += sigv4.o awsauth.o ecs.o fargate.o
LEGION_OBJS += heal.o
HELPERS = helpers/legion-master helpers/legion-jobd helpers/legion-register helpers/legion-idle helpers/legion-worker helpers/legion-pydriver
JOBD_OBJS = helpers/httpd.o helpers/jobq.o helpers/jobspec.o helpers/api.o helpers/uiproxy.o
$(HELPERS:%=$(O)/%): $(B)/helpers/common.o $(B)/proc.o
$(O)/helpers/legion-jobd: $(JOBD_OBJS:%=$(B)/%)
$(O)/helpers/legion-master $(O)/helpers/legion-worker: $(B)/helpers/cds.o
TESTBINS = t/json_test t/auth_test t/httpd_test t/sigv4_test

.DEFAULT_GOAL := all # the helpers' prerequisite line above is a rule too
.PHONY: all bin build deps spark browser asan check demo bench cds fmt fmt-check clean install image fuzz fuzz-build chaos
all: deps
	@$(MAKE) --no-print-directory build

# bin: what goes into the images; build: also the C test drivers
bin: $(O)/legion $(HELPERS:%=$(O)/%)
build: bin $(TESTBINS:%=$(O)/%)

# the dependency script runs again only when it changed (or the cache is gone)
deps: $(DEPS)/.deps-done
$(DEPS)/.deps-done: mk/deps.sh
	@sh mk/deps.sh all
	@touch $@

$(B)/%.o: %.c legion.h cli.h aci.h aws.h helpers/helpers.h
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) -I$(B) $(CPPFLAGS) -c $< -o $@

$(B)/http.o: $(B)/roots.h
$(B)/roots.h: mk/roots.sh
	@mkdir -p $(dir $@)
	sh mk/roots.sh > $@

$(O)/legion: $(LEGION_OBJS:%=$(B)/%)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(O)/helpers/%: $(B)/helpers/%.o $(CORE:%=$(B)/%) $(B)/tls.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(O)/t/json_test: $(B)/t/json_test.o $(B)/util.o $(B)/json.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(O)/t/httpd_test: $(B)/t/httpd_test.o $(B)/helpers/httpd.o $(B)/util.o $(B)/json.o $(B)/tls.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(O)/t/auth_test: $(B)/t/auth_test.o $(B)/util.o $(B)/json.o $(B)/http.o $(B)/auth.o $(B)/azcli.o $(B)/jwt.o $(B)/cert.o $(B)/proc.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(O)/t/sigv4_test: $(B)/t/sigv4_test.o $(B)/sigv4.o $(B)/util.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(O)/bench/fanout: $(B)/bench/fanout.o $(B)/aci.o $(B)/arm.o $(B)/local.o $(B)/proc.o $(B)/backend.o $(B)/auth.o $(B)/azcli.o $(B)/jwt.o $(B)/cert.o $(B)/sigv4.o $(B)/awsauth.o $(B)/ecs.o $(B)/fargate.o $(CORE:%=$(B)/%)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# The same sources with gcc + ASan/UBSan, linked against Debian's libcurl and BearSSL.
asan:
	@$(MAKE) --no-print-directory build O=build/asan B=build/asan CC=gcc LDFLAGS= \
		CFLAGS='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
		CPPFLAGS='-I. -I$(DEPS)/include' \
		LIBS="$$(pkg-config --libs libcurl) -lbearssl -lpthread -lm -fsanitize=address,undefined"

# Fuzzing: libFuzzer targets (t/fuzz/*.c) built with clang, ASan and UBSan (clang from
# Debian's archive, installed by mk/deps.sh fuzz on first use), each run for FUZZ_SECONDS
# from its seeds in t/fuzz/TARGET/ by mk/fuzz.sh (what it finds: build/fuzz/corpus/TARGET;
# a crash, leak, hang or failed check: build/fuzz/crashes/ and make fails).
FUZZ_TARGETS = json httpd jobspec api auth arm
FUZZ_SECONDS ?= 15
FUZZ_JOBD = helpers/api.o helpers/uiproxy.o helpers/jobq.o helpers/jobspec.o helpers/httpd.o helpers/common.o \
	proc.o tls.o http.o util.o json.o
fuzz:
	@sh mk/deps.sh fuzz
	@$(MAKE) --no-print-directory fuzz-build O=build/fuzz B=build/fuzz/obj CC=clang \
		WARN='$(WARN) -Wno-unknown-warning-option' LDFLAGS=-fsanitize=fuzzer,address,undefined \
		CFLAGS='-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer' \
		CPPFLAGS='-I. -I$(DEPS)/include' \
		LIBS="$$(pkg-config --libs libcurl) -lbearssl -lpthread -lm"
	@sh mk/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)
fuzz-build: $(FUZZ_TARGETS:%=$(O)/t/fuzz/%)
$(O)/t/fuzz/json: $(B)/t/fuzz/json.o $(B)/util.o $(B)/json.o
$(O)/t/fuzz/httpd: $(B)/t/fuzz/httpd.o $(B)/helpers/httpd.o $(B)/util.o $(B)/json.o $(B)/tls.o
$(O)/t/fuzz/jobspec: $(B)/t/fuzz/jobspec.o $(FUZZ_JOBD:%=$(B)/%)
$(O)/t/fuzz/api: $(B)/t/fuzz/api.o $(FUZZ_JOBD:%=$(B)/%)
$(O)/t/fuzz/auth: $(B)/t/fuzz/auth.o $(B)/auth.o $(B)/azcli.o $(B)/jwt.o $(B)/cert.o $(B)/proc.o $(B)/tls.o $(B)/http.o $(B)/util.o $(B)/json.o
$(O)/t/fuzz/arm: $(B)/t/fuzz/arm.o $(B)/aci.o $(B)/arm.o $(B)/auth.o $(B)/azcli.o $(B)/jwt.o $(B)/cert.o $(B)/tls.o $(B)/backend.o $(B)/local.o $(B)/sigv4.o $(B)/awsauth.o $(B)/ecs.o $(B)/fargate.o \
	$(B)/proc.o $(B)/http.o $(B)/util.o $(B)/json.o
$(O)/t/fuzz/%:
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# Spark from PyPI into a venv, once; then its Python libraries (mk/pylibs.txt), the
# Hadoop Azure connector in pyspark's jars/ (mk/jars.sh), and Azurite for the tests.
AZURITE_VERSION = 3.35.0
AZURITE = $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/legion/azurite-$(AZURITE_VERSION)
MOTO = $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/legion/moto
AZSDK = $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/legion/azsdk
spark: $(VENV)/.pyspark-$(PYSPARK_VERSION) $(VENV)/.runtime $(AZURITE)/.installed $(MOTO)/.installed \
	$(AZSDK)/.installed
$(VENV)/.pyspark-$(PYSPARK_VERSION):
	sh mk/deps.sh packages
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q 'pyspark==$(PYSPARK_VERSION)'
	touch $@
$(VENV)/.runtime: $(VENV)/.pyspark-$(PYSPARK_VERSION) mk/pylibs.txt mk/jars.sh
	$(VENV)/bin/pip install -q -r mk/pylibs.txt
	sh mk/jars.sh install "$$($(VENV)/bin/python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')/jars"
	touch $@
$(AZURITE)/.installed:
	command -v npm >/dev/null || $$([ "$$(id -u)" = 0 ] || echo sudo) \
		apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
	npm install -s --no-audit --no-fund --omit=dev --prefix $(AZURITE) 'azurite@$(AZURITE_VERSION)'
	touch $@

# A real browser for t/ui.bats: Debian's chromium (headless), on first use.
browser:
	@command -v chromium >/dev/null || { sh mk/deps.sh packages && \
		$$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y -qq --no-install-recommends \
		chromium >/dev/null; }
# moto (mk/moto.txt) for t/fargate*.bats, in a venv of its own: its boto3 and Flask stay
# out of Spark's
$(MOTO)/.installed: mk/moto.txt
	sh mk/deps.sh packages
	python3 -m venv $(MOTO)
	$(MOTO)/bin/pip install -q -r mk/moto.txt
	touch $@
# Microsoft's Azure SDK for Python (mk/azsdk.txt) for t/azsdk.bats, in a venv of its own
$(AZSDK)/.installed: mk/azsdk.txt
	python3 -m venv $(AZSDK)
	$(AZSDK)/bin/pip install -q -r mk/azsdk.txt
	touch $@
# The Spark image for the aci backend, IMAGE_REPO:VERSION (legion's version), with
# podman or docker, whichever is installed (mk/image.sh image); push it yourself.
IMAGE_REPO ?= legion/spark
image:
	LEGION_IMAGE_REPO=$(IMAGE_REPO) sh mk/image.sh image

# The README's first command: a real Spark job on this machine.
demo: all spark $(CDS_DIR)/driver.ok
	./legion submit --num-executors 2 examples/pi.py

# make check [CHECK_JOBS=3] [CHECK_FUZZ_SECONDS=5]: the suites in t/ run CHECK_JOBS files
# at a time (bats --jobs, GNU parallel; the tests of one file stay in order), the longest
# first: most of their time is waiting (idle timeouts, provisioning delays, slow clients),
# not computing. CHECK_JOBS=1 runs them one by one.
CHECK_JOBS ?= 3
CHECK_FUZZ_SECONDS ?= 5
CHECK_FIRST = heal jobd local cluster-abuse scale scale-aci aci chaos storage parity pylibs \
	cds ui auth jobd-abuse fargate
CHECK_FILES = $(CHECK_FIRST:%=t/%.bats) $(filter-out $(CHECK_FIRST:%=t/%.bats),$(wildcard t/*.bats))
check: all spark browser $(CDS_DIR)/driver.ok
	@$(MAKE) --no-print-directory fmt-check
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS)
	VENV=$(VENV) bats --timing $(if $(filter-out 1,$(CHECK_JOBS)),--jobs $(CHECK_JOBS) --no-parallelize-within-files) $(CHECK_FILES)

# make chaos [CHAOS_RUNS=100] [CHAOS_SEED=S]: submit through the aci backend under
# seeded faults and signals (t/chaos.sh); its table goes in BENCHMARKS.md.
chaos: all spark
	VENV=$(VENV) bash t/chaos.sh

# class archives for the local backend's JVMs (helpers/cds.c reads them; mk/cds.sh)
# (make check and make demo build them once; t/test_helper.bash hands them to the suites
# through LEGION_CDS_DIR)
$(CDS_DIR)/driver.ok: $(VENV)/.pyspark-$(PYSPARK_VERSION)
	@$(MAKE) --no-print-directory cds
cds: spark
	SPARK_HOME=$$(ls -d $(VENV)/lib/python3*/site-packages/pyspark | head -n 1) \
		PYSPARK_PYTHON=$(VENV)/bin/python3 sh mk/cds.sh $(CDS_DIR)
bench: all spark
	@$(MAKE) --no-print-directory $(O)/bench/fanout
	bash bench/run.sh

FMT_FILES = *.c legion.h cli.h aci.h aws.h helpers/*.c helpers/*.h t/*.c t/fuzz/*.c bench/*.c
fmt:
	clang-format -i $(FMT_FILES)

# make fmt must be a no-op on committed code
fmt-check:
	clang-format --dry-run -Werror $(FMT_FILES)

# make install [PREFIX=/usr/local] [DESTDIR=]: legion and its helpers (the local backend
# finds them beside legion), the man page and the bash and zsh completions.
PREFIX ?= /usr/local
BINDIR = $(DESTDIR)$(PREFIX)/bin
MANDIR = $(DESTDIR)$(PREFIX)/share/man/man1
install: bin
	install -d $(BINDIR) $(MANDIR) $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions
	install -m 0755 $(O)/legion $(HELPERS:%=$(O)/%) $(BINDIR)
	install -m 0644 legion.1 $(MANDIR)
	install -m 0644 completions/legion.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/legion
	install -m 0644 completions/_legion $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_legion

clean:
	rm -rf build legion bench/fanout $(HELPERS) $(TESTBINS)
