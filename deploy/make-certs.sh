#!/bin/bash
# The secrets docker-compose.yml mounts: a private CA, etcd's server/peer
# certificate, the controllers' client certificate for etcd and their OpenFlow /
# HTTPS certificate, and the etcd users' passwords. Made with openssl; never
# committed (deploy/secrets/ is in .gitignore). Run it once, as root (the files
# are given to the containers' users: uid 10001 the controllers, 990 etcd),
# before the first `docker-compose up`:
#
#   deploy/make-certs.sh [DIR]        # DIR default deploy/secrets; compose: VNETSEC_SECRETS=DIR
#
#   DIR/ca.key                  the CA's key (root only: signs more certificates)
#   DIR/etcd/                   mounted in the etcd members at /etc/etcd/secrets
#       ca.pem server.pem server.key   TLS for clients and peers (127.0.0.1, localhost)
#       root.password vnetsec.password  the etcd users made when auth is first enabled
#   DIR/controller/             mounted in the controllers at /etc/vnetsec/secrets
#       ca.pem                      the CA (etcd's and the switches' certificates)
#       etcd-client.pem/.key        the controllers' client certificate for etcd
#       etcd.password               the etcd user vnetsec's password
#       controller.pem/.key         OpenFlow over TLS and HTTPS (VNETSEC_OFP_CERT, ...)
#
# Existing files are kept (the passwords must match what etcd holds); remove DIR
# (and `docker-compose down -v` the etcd volumes) to start again.
set -euo pipefail
DIR=${1:-$(dirname "$0")/secrets}
CONTROLLER_UID=${VNETSEC_CONTROLLER_UID:-10001}
ETCD_UID=${VNETSEC_ETCD_UID:-990}
DAYS=${VNETSEC_CERT_DAYS:-825}
umask 077
mkdir -p "$DIR/etcd" "$DIR/controller"

# cert NAME CN EXTENDED_KEY_USAGE [SUBJECT_ALT_NAME]: NAME.key and NAME.pem signed by the CA
cert() {
  local name=$1 cn=$2 usage=$3 san=${4:-}
  [ -f "$DIR/$name.pem" ] && return
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$DIR/$name.key" -subj "/O=vnetsec${cn:+/CN=$cn}" -out "$DIR/$name.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n' \
    > "$DIR/$name.ext"
  printf 'extendedKeyUsage=%s\n' "$usage" >> "$DIR/$name.ext"
  [ -z "$san" ] || printf 'subjectAltName=%s\n' "$san" >> "$DIR/$name.ext"
  openssl x509 -req -in "$DIR/$name.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" \
    -CAcreateserial -days "$DAYS" -sha256 -extfile "$DIR/$name.ext" -out "$DIR/$name.pem" \
    2>/dev/null
  rm -f "$DIR/$name.csr" "$DIR/$name.ext"
}

password() {
  [ -s "$1" ] || openssl rand -hex 24 > "$1"
}

if [ ! -f "$DIR/ca.pem" ]; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$DIR/ca.key" -subj "/O=vnetsec/CN=vnetsec deployment CA" -days "$DAYS" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -out "$DIR/ca.pem" 2>/dev/null
fi
# No certificate's CN names an etcd user (etcd would take it as the user, no password
# needed). The etcd client certificate has no CN at all: with auth on, etcd's JSON
# gateway (the controllers' client) refuses any client certificate that has one (400
# "CommonName of client sending a request against gateway will be ignored"). The
# server certificate is also the gateway's own client certificate: clientAuth too.
cert etcd/server "etcd member" serverAuth,clientAuth IP:127.0.0.1,DNS:localhost
cert controller/etcd-client "" clientAuth
cert controller/controller "vnetsec controller" serverAuth,clientAuth \
  IP:127.0.0.1,DNS:localhost
cp "$DIR/ca.pem" "$DIR/etcd/ca.pem"
cp "$DIR/ca.pem" "$DIR/controller/ca.pem"
password "$DIR/etcd/root.password"
password "$DIR/etcd/vnetsec.password"
cp "$DIR/etcd/vnetsec.password" "$DIR/controller/etcd.password"

# Readable by the containers' users only: keys and passwords 0600, certificates 0644.
chmod 0644 "$DIR"/ca.pem "$DIR"/etcd/*.pem "$DIR"/controller/*.pem
chmod 0600 "$DIR"/ca.key "$DIR"/etcd/*.key "$DIR"/etcd/*.password "$DIR"/controller/*.key \
  "$DIR"/controller/*.password
chmod 0755 "$DIR"
chmod 0700 "$DIR/etcd" "$DIR/controller"
if [ "$(id -u)" = 0 ]; then
  chown -R "$ETCD_UID:$ETCD_UID" "$DIR/etcd"
  chown -R "$CONTROLLER_UID:$CONTROLLER_UID" "$DIR/controller"
else
  echo "$0: not root: chown -R $ETCD_UID:$ETCD_UID $DIR/etcd and" \
       "chown -R $CONTROLLER_UID:$CONTROLLER_UID $DIR/controller as root," \
       "or the containers cannot read them" >&2
fi
echo "secrets in $DIR"
