"""Real mail peers for the email connector's tests: Dovecot (IMAP + LMTP) and Postfix (SMTP).

Both run from fresh temporary directories on free loopback ports, as children of the test
process (``tests/support/servers.py`` style), and are stopped by the object that started them.

- ``Dovecot``: IMAP for the hub to read, LMTP for Postfix to deliver into. Users live in a
  passwd-file; every address in ``USERS`` has the password ``PASSWORD``.
- ``Postfix``: an MTA on loopback that accepts mail for ``DOMAIN`` and hands it to Dovecot's
  LMTP, so an unknown local user produces a real DSN bounce. ``busy@DOMAIN`` is refused with a
  real 450 and any other domain with a real 5xx, for the sender's retry/fail tests.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import ServerStartError, _ChildServer, free_port

DOMAIN = "example.test"
PASSWORD = "secret"
SUPPORT = f"support@{DOMAIN}"
CLIENT = f"client@{DOMAIN}"
OTHER = f"sales@{DOMAIN}"
BUSY = f"busy@{DOMAIN}"
USERS = (SUPPORT, CLIENT, OTHER)
# Users that exist only to log in, with logins and passwords as real servers have them: a
# Windows domain login, and passwords with spaces, quotes, backslashes and letters outside ASCII.
ODD_LOGINS = {
    "CORP\\desk": 'pa ss"wo\\rd',
    "desk (sales)": "пароль",
}

_NOBODY = 65534


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Dovecot(_ChildServer):
    """A private Dovecot with IMAP on ``port`` and LMTP on ``lmtp_port``; maildirs in its dir."""

    _name = "dovecot"
    _stop_signal = signal.SIGTERM

    def __init__(self, *, start_timeout: float = 15.0) -> None:
        super().__init__(start_timeout=start_timeout)
        self.lmtp_port = 0
        if shutil.which("dovecot") is None:
            raise ServerStartError("dovecot is missing: run scripts/install-test-deps.sh")

    def _prepare(self, directory: Path) -> None:
        # mkdtemp makes the directory 0700; Dovecot's unprivileged processes must traverse it.
        directory.chmod(0o755)
        for sub in ("run", "state", "mail"):
            (directory / sub).mkdir()
        os.chown(directory / "mail", _NOBODY, _NOBODY)
        logins = {u: PASSWORD for u in USERS} | ODD_LOGINS
        # Dovecot looks a login up in lower case (auth_username_format = %Lu), and with its
        # backslashes escaped, as it expands every variable it looks up.
        users = "".join(
            f"{u.lower().replace(chr(92), chr(92) * 2)}:{{PLAIN}}{p}::::::\n"
            for u, p in logins.items()
        )
        (directory / "users").write_text(users)

    def _command(self, directory: Path, port: int) -> list[str]:
        # Written per attempt: a retry after a port clash gets fresh ports in the config.
        self.lmtp_port = free_port()
        d = directory
        (d / "dovecot.conf").write_text(
            f"""protocols = imap lmtp
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
instance_name = openlines-test-{port}
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Any character may be in a login; the default set has no backslash and no space.
auth_username_chars =
mail_location = maildir:{d}/mail/%u/Maildir
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={_NOBODY} gid={_NOBODY} home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
protocol lmtp {{
  postmaster_address = postmaster@{DOMAIN}
}}
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    auto = subscribe
    special_use = \\Sent
  }}
}}
"""
        )
        return ["dovecot", "-F", "-c", str(d / "dovecot.conf")]

    def _ready(self, directory: Path, pid: int, port: int) -> bool:
        return _port_open(port) and _port_open(self.lmtp_port)

    def doveadm(self, *args: str) -> list[str]:
        """The command line of a doveadm call against this instance."""
        assert self.directory is not None
        return ["doveadm", "-c", str(self.directory / "dovecot.conf"), *args]


class Postfix(_ChildServer):
    """A private Postfix (``start-fg``) on ``port`` that delivers ``DOMAIN`` to Dovecot's LMTP."""

    _name = "postfix"
    _stop_signal = signal.SIGTERM

    def __init__(self, lmtp_port: int, *, start_timeout: float = 20.0) -> None:
        super().__init__(start_timeout=start_timeout)
        self.lmtp_port = lmtp_port
        if shutil.which("postfix") is None:
            raise ServerStartError("postfix is missing: run scripts/install-test-deps.sh")
        try:
            self._postfix_uid = pwd.getpwnam("postfix").pw_uid
        except KeyError:
            raise ServerStartError("no 'postfix' OS user: run install-test-deps.sh") from None

    def stop(self) -> None:
        """Stop the master through Postfix itself, then as every child server is stopped."""
        # ``start-fg`` runs the master in a session of its own: a signal to the command it was
        # started by never reaches it, and every test run would leave one running.
        if self.directory is not None:
            subprocess.run(
                ["postfix", "-c", str(self.directory), "abort"], capture_output=True, timeout=30
            )
        super().stop()

    def _prepare(self, directory: Path) -> None:
        # The master runs as root but its children as ``postfix``: they must traverse it.
        directory.chmod(0o755)
        (directory / "spool").mkdir()
        (directory / "data").mkdir()
        os.chown(directory / "data", self._postfix_uid, -1)
        for name in ("dynamicmaps.cf", "postfix-files", "post-install", "postfix-script"):
            shutil.copy2(Path("/etc/postfix") / name, directory / name)
        for name in ("dynamicmaps.cf.d", "postfix-files.d"):
            if (Path("/etc/postfix") / name).is_dir():
                shutil.copytree(Path("/etc/postfix") / name, directory / name)

    def _command(self, directory: Path, port: int) -> list[str]:
        d = directory
        busy_map = f"inline:{{ {{{BUSY} = 450 4.2.1 Mailbox busy, try later}} }}"
        (d / "main.cf").write_text(
            f"""compatibility_level = 3.6
config_directory = {d}
queue_directory = {d}/spool
data_directory = {d}/data
meta_directory = {d}
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.{DOMAIN}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = {DOMAIN}
virtual_transport = lmtp:inet:127.0.0.1:{self.lmtp_port}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access {busy_map}
smtputf8_enable = yes
maillog_file = {d}/maillog
maillog_file_prefixes = /var, /dev/stdout, /tmp
message_size_limit = 26214400
smtp_dns_support_level = disabled
disable_dns_lookups = yes
relayhost =
default_transport = error:outbound mail disabled in tests
delay_warning_time = 0
bounce_queue_lifetime = 0
"""
        )
        # Debian's master.cf without the port-25 listener and without chroot, plus ours.
        lines = [f"127.0.0.1:{port} inet n - n - - smtpd"]
        for line in (Path("/etc/postfix") / "master.cf").read_text().splitlines():
            if re.match(r"^smtp\s+inet", line):
                continue
            lines.append(re.sub(r"^(\S+\s+\S+\s+\S+\s+\S+\s+)y(\s)", r"\1n\2", line))
        (d / "master.cf").write_text("\n".join(lines) + "\n")
        return ["postfix", "-c", str(d), "start-fg"]

    def _ready(self, directory: Path, pid: int, port: int) -> bool:
        return _port_open(port)

    def maillog(self) -> str:
        """Postfix's log so far (for assertion messages)."""
        assert self.directory is not None
        try:
            return (self.directory / "maillog").read_text(errors="replace")
        except OSError:
            return ""


@dataclass
class MailPeers:
    """The running mail servers and ways to put mail in and look at it."""

    dovecot: Dovecot
    postfix: Postfix

    @property
    def imap_port(self) -> int:
        return self.dovecot.port

    @property
    def smtp_port(self) -> int:
        return self.postfix.port

    def deliver(self, raw: bytes, to: str = SUPPORT, sender: str = "client@example.test") -> None:
        """Deliver a message straight into a mailbox over LMTP, as an MTA would."""
        with smtplib.LMTP("127.0.0.1", self.dovecot.lmtp_port, local_hostname="hub.test") as lmtp:
            lmtp.sendmail(sender, [to], raw)

    def doveadm(self, *args: str) -> str:
        """Run doveadm against this Dovecot; returns its output."""
        done = subprocess.run(self.dovecot.doveadm(*args), capture_output=True, check=True)
        return done.stdout.decode(errors="replace")

    def empty(self) -> None:
        """Expunge every message of every test user."""
        for user in USERS:
            self.doveadm("expunge", "-u", user, "mailbox", "*", "all")
