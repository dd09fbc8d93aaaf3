# Legion's images, one multi-stage file:
#   --target cli    FROM scratch: the static `legion` and a CA bundle, nothing else
#   --target spark  (default) the Spark runtime for master and workers: JRE 17,
#                   Python 3, pyspark with numpy, pandas and pyarrow (mk/pylibs.txt),
#                   the Hadoop Azure connector (mk/jars.sh), class archives for its
#                   JVMs (mk/cds.sh), `legion` and its helpers
# Build arguments:
#   BASE             the Debian image to build on (default debian:bookworm-slim); on
#                    machines without a registry, import one made with debootstrap
#   PYSPARK_VERSION  the pyspark release from PyPI (default: the Makefile's)
#   PIP_INDEX, PIP_CA  pip's index and CA bundle, when PyPI is reached another way;
#                   PIP_CA is also the CA bundle for Maven Central (the connector's jars)
# Example: podman build --build-arg BASE=local/debian:bookworm -t legion/spark:0.1.0 .
# mk/image.sh does it all with podman on a machine with no registry (t/image.bats).
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# What the static build needs, and no more (`make deps` would also install the test
# tools and a JRE): the compilers, and for mk/deps.sh's `libs` step its deb-src lines
# (the same file it writes) and what unpacks and fetches Debian's source packages.
RUN printf '%s\n' 'Types: deb-src' 'URIs: http://deb.debian.org/debian' \
	'Suites: bookworm trixie' 'Components: main' \
	'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
	> /etc/apt/sources.list.d/legion-src.sources \
	&& apt-get update -qq && apt-get install -y -qq --no-install-recommends \
	make gcc libc6-dev musl-tools libjsmn-dev dpkg-dev xz-utils ca-certificates curl \
	>/dev/null
# BearSSL and libcurl from Debian's source packages, built with musl-gcc: a layer of
# its own, so that editing Legion's sources does not rebuild them.
COPY mk/deps.sh mk/
RUN sh mk/deps.sh libs
# Sources only: no objects or binaries from the build context. `make bin` builds the
# binaries alone (`make build` also builds the C tests under t/).
COPY Makefile *.h *.c ./
COPY mk/roots.sh mk/
COPY helpers/*.c helpers/*.h helpers/
RUN make -s bin && ls -l legion helpers/legion-*[!c]

FROM scratch AS cli
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /src/legion /legion
ENTRYPOINT ["/legion"]

# The Hadoop Azure connector (mk/jars.sh: pinned coordinates, checked against Maven
# Central's SHA-1 and our SHA-256), fetched with the build stage's curl so that the
# runtime image needs none. PIP_CA is curl's CA bundle here too.
FROM build AS jars
ARG PIP_CA=
COPY mk/jars.sh mk/
RUN mkdir /jars && ${PIP_CA:+env CURL_CA_BUNDLE="$PIP_CA"} sh mk/jars.sh install /jars

FROM ${BASE} AS spark
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
	openjdk-17-jre-headless python3 python3-venv procps ca-certificates >/dev/null \
	&& rm -rf /var/lib/apt/lists/*
# The unprivileged user Spark runs as (uid and gid 185, as in Apache Spark's own images), owner
# of the work directory. The image starts as root only so that the entrypoint can map
# ACI's public name to the container's address in /etc/hosts (a file the runtime writes
# at each start, owned by root); the helpers then switch to LEGION_USER for good before
# they write or run anything (helpers/common.c). LEGION_USER= (empty) keeps root.
RUN groupadd --system --gid 185 spark \
	&& useradd --system --uid 185 --gid spark --create-home --shell /usr/sbin/nologin spark \
	&& mkdir /work && chown spark:spark /work
# PIP_INDEX, PIP_CA: for pip alone, a PyPI mirror, or the CA bundle of a proxy that
# intercepts TLS, mounted for the build (`podman build -v HOST.crt:/run/pip-ca.crt:ro
# --build-arg PIP_CA=/run/pip-ca.crt`, as mk/image.sh does); not kept in the image.
ARG PYSPARK_VERSION=3.5.7
ARG PIP_INDEX=
ARG PIP_CA=
COPY mk/pylibs.txt /tmp/pylibs.txt
RUN python3 -m venv /opt/venv \
	&& /opt/venv/bin/pip install --no-cache-dir ${PIP_INDEX:+--index-url "$PIP_INDEX"} \
	${PIP_CA:+--cert "$PIP_CA"} "pyspark==${PYSPARK_VERSION}" -r /tmp/pylibs.txt \
	&& rm /tmp/pylibs.txt \
	&& ln -s /opt/venv/lib/python3*/site-packages/pyspark /opt/spark
COPY --from=jars /jars/ /opt/spark/jars/
ENV SPARK_HOME=/opt/spark \
	LEGION_USER=spark \
	PYSPARK_PYTHON=/opt/venv/bin/python3 \
	JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
	PATH=/usr/local/bin:/opt/venv/bin:/usr/bin:/bin
COPY --from=build /src/legion /src/helpers/legion-master /src/helpers/legion-jobd \
	/src/helpers/legion-worker 	/src/helpers/legion-register /src/helpers/legion-idle \
	/src/helpers/legion-pydriver /usr/local/bin/
# Class Data Sharing archives for the launcher, master, worker, driver and executor
# JVMs, dumped by a small job on 127.0.0.1 against this image's own jars (mk/cds.sh;
# helpers/cds.c maps each only while its .ok matches, so JVM start-up falls back
# rather than fail)
ENV LEGION_CDS_DIR=/opt/legion-cds
COPY mk/cds.sh /tmp/cds.sh
RUN sh /tmp/cds.sh /opt/legion-cds && rm /tmp/cds.sh
WORKDIR /work
# The role comes from the command the CLI gives each container group:
# `legion-master -i SECS` for the master, `legion-worker` for workers.
CMD ["legion-master"]
