# Legion's images, one multi-stage file:
#   --target cli    FROM scratch: the static `legion` alone (CI pipelines)
#   --target spark  (default) the Spark runtime for master and workers: JRE 17,
#                   Python 3, pyspark, `legion` and its helpers
# Build arguments:
#   BASE             the Debian image to build on (default debian:bookworm-slim); on
#                    machines without a registry, import one made with debootstrap
#   PYSPARK_VERSION  the pyspark release from PyPI (default: the Makefile's)
# Example: podman build --build-arg BASE=local/debian:bookworm -t legion/spark:0.1.0 .
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
	make ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile legion.h *.c ./
COPY mk/ mk/
COPY helpers/ helpers/
# mk/deps.sh installs the build's Debian packages and builds BearSSL and libcurl from
# Debian's source packages with musl-gcc.
RUN make deps && make build && strip legion helpers/legion-[a-z]* 2>/dev/null; \
	ls -l legion helpers/legion-*

FROM scratch AS cli
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /src/legion /legion
ENTRYPOINT ["/legion"]

FROM ${BASE} AS spark
ARG PYSPARK_VERSION=3.5.7
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
	openjdk-17-jre-headless python3 python3-venv procps ca-certificates \
	&& rm -rf /var/lib/apt/lists/* \
	&& python3 -m venv /opt/venv \
	&& /opt/venv/bin/pip install --no-cache-dir "pyspark==${PYSPARK_VERSION}" \
	&& ln -s /opt/venv/lib/python3*/site-packages/pyspark /opt/spark
ENV SPARK_HOME=/opt/spark \
	PYSPARK_PYTHON=/opt/venv/bin/python3 \
	JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
	PATH=/usr/local/bin:/opt/venv/bin:/usr/bin:/bin
COPY --from=build /src/legion /src/helpers/legion-jobd /src/helpers/legion-worker \
	/src/helpers/legion-register /src/helpers/legion-idle /usr/local/bin/
WORKDIR /work
# The role comes from the command the CLI gives each container group:
# `legion-jobd -i SECS` for the master, `legion-worker` for workers.
CMD ["legion-jobd"]
