#!/usr/bin/env bash
# make-certs.sh — a CA, a server certificate and one client certificate per
# organisation and role, for caseledgerd's mutual TLS.
#
#   deploy/make-certs.sh OUT_DIR                 # the development set (below)
#   deploy/make-certs.sh OUT_DIR NAME:ROLE ...   # your own set, e.g. vluchtelingenwerk:partner
#
# Client certificates carry the identity caseledgerd trusts:
#   subject O  = organisation (NAME), OU = role, CN = NAME
#   roles: partner | municipality | auditor | privacy-officer | admin
# Files: OUT_DIR/ca.pem, ca.key, server.pem, server.key, NAME.pem, NAME.key.
# Existing files are kept (the script is idempotent): delete a NAME.pem and
# NAME.key and run again to re-issue one certificate; keep ca.key offline in
# production. Server names: localhost, 127.0.0.1 and ::1, plus the
# comma-separated DNS names in $CASELEDGER_SERVER_NAMES.
# Environment: CASELEDGER_CERT_DAYS (leaf validity, default 825).
set -euo pipefail

if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
out=$1; shift
identities=("$@")
if [[ ${#identities[@]} -eq 0 ]]; then
  identities=(vluchtelingenwerk:partner goedwerk:partner askv:partner gemeente:municipality
              auditor:auditor privacy-officer:privacy-officer admin:admin)
fi
days=${CASELEDGER_CERT_DAYS:-825}

mkdir -p "$out"
chmod 700 "$out"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ ! -f "$out/ca.pem" ]]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$out/ca.key" -out "$out/ca.pem" -days 3650 \
    -subj "/O=caseledger/OU=ca/CN=caseledger CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
  echo "made $out/ca.pem"
fi

# issue NAME SUBJECT EXTENSIONS
issue() {
  local name=$1 subject=$2 ext=$3
  [[ -f "$out/$name.pem" && -f "$out/$name.key" ]] && return 0
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$out/$name.key" -out "$tmp/$name.csr" -subj "$subject" 2>/dev/null
  printf '%s\n' "$ext" > "$tmp/$name.ext"
  openssl x509 -req -in "$tmp/$name.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" \
    -CAcreateserial -CAserial "$tmp/ca.srl" -days "$days" -sha256 \
    -extfile "$tmp/$name.ext" -out "$out/$name.pem" 2>/dev/null
  echo "made $out/$name.pem"
}

san="DNS:localhost,IP:127.0.0.1,IP:::1"
if [[ -n "${CASELEDGER_SERVER_NAMES:-}" ]]; then
  IFS=',' read -ra extra <<< "$CASELEDGER_SERVER_NAMES"
  for n in "${extra[@]}"; do san="$san,DNS:$n"; done
fi
issue server "/O=caseledger/OU=server/CN=caseledgerd" \
  "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san"

for spec in "${identities[@]}"; do
  name=${spec%%:*}; role=${spec#*:}
  case "$role" in
    partner|municipality|auditor|privacy-officer|admin) ;;
    *) echo "make-certs.sh: '$spec': role must be partner, municipality, auditor, privacy-officer or admin" >&2; exit 2 ;;
  esac
  if [[ ! "$name" =~ ^[a-z0-9][a-z0-9.-]*$ ]]; then
    echo "make-certs.sh: '$name': use lower-case letters, digits, '.' and '-' only" >&2; exit 2
  fi
  issue "$name" "/O=$name/OU=$role/CN=$name" \
    "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
done
