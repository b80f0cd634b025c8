# The vnetsec controller: ryu-manager running the vnetsec apps, on Debian 12,
# configured by environment variables (controller/state/environment.py): e.g.
# VNETSEC_STORE=etcd://127.0.0.1:2379, VNETSEC_OFP_HOST, VNETSEC_OFP_PORT,
# VNETSEC_API_HOST, VNETSEC_API_PORT, VNETSEC_API_TOKEN. Built by docker-compose.yml.
# It runs as the user vnetsec (uid 10001): it needs no privilege (ports above
# 1024, its files in /var/lib/vnetsec, a volume in docker-compose.yml).
# FROM debian:bookworm must exist locally where no registry is reachable:
# scripts/docker-engine.sh base-image makes it (README, "Run it with docker compose").
FROM debian:bookworm

# apt must not try to start services inside a build
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 vnetsec \
    && useradd --system --uid 10001 --gid vnetsec --home-dir /var/lib/vnetsec \
       --shell /usr/sbin/nologin vnetsec \
    && install -d -o vnetsec -g vnetsec -m 0700 /var/lib/vnetsec

# Behind a TLS-inspecting proxy pip needs its CA: the PEM text, as a build argument.
ARG EXTRA_CA_CERTS=""
RUN if [ -n "$EXTRA_CA_CERTS" ]; then \
        printf '%s\n' "$EXTRA_CA_CERTS" > /usr/local/share/ca-certificates/build-extra.crt \
        && update-ca-certificates; fi
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# The pinned runtime dependencies (pyproject.toml, constraints.txt), as scripts/setup.sh
# installs them: Ryu 4.34 builds only with setuptools < 68. A layer of its own, so
# a change of the code does not download them again.
WORKDIR /opt/vnetsec/src
COPY pyproject.toml constraints.txt ./
RUN python3 -m venv /opt/vnetsec \
    && /opt/vnetsec/bin/pip install -q -c constraints.txt 'setuptools<68' wheel pbr \
    && touch README.md \
    && /opt/vnetsec/bin/pip install -q --no-build-isolation -c constraints.txt . \
    && /opt/vnetsec/bin/pip uninstall -q -y vnetsec

COPY controller controller
COPY apps apps
# eventlet lacks ALREADY_HANDLED that ryu.app.wsgi imports: controller/compat.py
# supplies it at interpreter start-up (the .pth scripts/setup.sh writes too)
RUN /opt/vnetsec/bin/pip install -q --no-build-isolation --no-deps . \
    && site=$(/opt/vnetsec/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
    && echo 'import controller.compat; controller.compat.install()' > "$site/zz_vnetsec_compat.pth" \
    && rm -rf /opt/vnetsec/src

# GET /healthz on the API, for docker-compose.yml's healthcheck
COPY deploy/healthcheck.py /usr/local/lib/vnetsec-healthcheck.py

ENV PATH=/opt/vnetsec/bin:$PATH VNETSEC_OFP_HOST=0.0.0.0
WORKDIR /var/lib/vnetsec
USER vnetsec
CMD ["ryu-manager", "apps.vlan", "apps.vxlan", "apps.firewall"]
