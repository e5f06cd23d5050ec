//! A real Samba 4 Active Directory domain controller for the AD tests.
//!
//! Samba's LDAP ports are fixed (389, 636), so one DC serves a whole test binary: it is
//! provisioned once, and each test works in an OU of its own. A watchdog shell ends the DC
//! when the test binary's process is gone (a static never drops), and a DC left behind by a
//! crashed run is stopped before a new one starts.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;

pub const REALM: &str = "example.test";
pub const NETBIOS: &str = "EXAMPLE";
pub const ROOT: &str = "DC=example,DC=test";
pub const ADMIN_DN: &str = "CN=Administrator,CN=Users,DC=example,DC=test";
pub const ADMIN_PW: &str = "Adm1n-Pass!x";
const PIDFILE: &str = "/tmp/staffgate-test-samba.pid";

pub struct Samba {
    pub dir: PathBuf,
    pub ca_file: PathBuf,
}

static DC: OnceLock<Samba> = OnceLock::new();
static OU_SEQ: AtomicU64 = AtomicU64::new(0);

/// The test binary's DC, started on first use.
pub fn dc() -> &'static Samba {
    DC.get_or_init(Samba::start)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
        .is_ok()
}

/// Stops a DC an earlier, crashed run left listening, and removes old runs' domains.
fn stop_leftover() {
    if let Ok(dirs) = std::fs::read_dir(std::env::temp_dir()) {
        for d in dirs.flatten() {
            if d.file_name()
                .to_string_lossy()
                .starts_with("staffgate-samba-")
                && d.metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(3600))
            {
                let _ = std::fs::remove_dir_all(d.path());
            }
        }
    }
    if let Ok(pid) = std::fs::read_to_string(PIDFILE) {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while port_open(389) {
        assert!(
            Instant::now() < deadline,
            "something else listens on 389: the AD tests need Samba's fixed port"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Samba {
    fn start() -> Samba {
        stop_leftover();
        let dir = tempfile::Builder::new()
            .prefix("staffgate-samba-")
            .tempdir()
            .unwrap()
            .keep();
        let conf = dir.join("etc/smb.conf");
        run(Command::new("samba-tool").args([
            "domain",
            "provision",
            &format!("--targetdir={}", dir.display()),
            "--realm=EXAMPLE.TEST",
            "--domain=EXAMPLE",
            "--server-role=dc",
            "--dns-backend=NONE",
            "--use-rfc2307",
            &format!("--adminpass={ADMIN_PW}"),
            "--host-ip=127.0.0.1",
            "--option=interfaces=127.0.0.1",
            "--option=bind interfaces only=yes",
        ]));
        // A CA of the test's own: Samba's self-signed certificate has no subjectAltName.
        let pki = super::pki::pki(false);
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, &pki.ca_pem).unwrap();
        std::fs::write(dir.join("cert.pem"), &pki.cert_pem).unwrap();
        let key = dir.join("key.pem");
        std::fs::write(&key, &pki.key_pem).unwrap();
        #[allow(clippy::permissions_set_readonly_false)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let text = std::fs::read_to_string(&conf).unwrap();
        let mut out = String::new();
        for line in text.lines() {
            let key = line.trim().split('=').next().unwrap_or("").trim();
            if key == "server services" || key == "log file" {
                continue;
            }
            out.push_str(line);
            out.push('\n');
            if line.trim() == "[global]" {
                out.push_str(&format!(
                    "\tserver services = ldap, kdc\n\tldap server require strong auth = no\n\
                     \tldb:nosync = true\n\tlog file = {d}/samba.log\n\ttls enabled = yes\n\
                     \ttls keyfile = {d}/key.pem\n\ttls certfile = {d}/cert.pem\n\
                     \ttls cafile = {d}/ca.pem\n",
                    d = dir.display()
                ));
            }
        }
        std::fs::write(&conf, out).unwrap();
        // Short passwords and a lockout after three wrong ones, so tests can make each state.
        run(Command::new("samba-tool").args([
            "domain",
            "passwordsettings",
            "set",
            "-s",
            conf.to_str().unwrap(),
            "--complexity=off",
            "--min-pwd-length=1",
            "--history-length=0",
            "--min-pwd-age=0",
            "--account-lockout-threshold=3",
            "--account-lockout-duration=30",
            "--reset-account-lockout-after=30",
        ]));
        let log = std::fs::File::create(dir.join("stdout.log")).unwrap();
        let watchdog = format!(
            "samba -s '{conf}' -i -M single --debug-stdout -d 0 & dc=$!; echo $dc > {PIDFILE}; \
             while kill -0 {parent} 2>/dev/null && kill -0 $dc 2>/dev/null; do sleep 0.5; done; \
             kill $dc 2>/dev/null; rm -f {PIDFILE}",
            conf = conf.display(),
            parent = std::process::id()
        );
        // The watchdog outlives this call on purpose; it reaps the DC itself.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .args(["-c", &watchdog])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("samba starts (packages samba, samba-ad-dc)");
        let dc = Samba { dir, ca_file };
        let deadline = Instant::now() + Duration::from_secs(60);
        while dc
            .try_search(ROOT, "base", "(objectClass=*)", &["dn"])
            .is_none()
        {
            assert!(
                Instant::now() < deadline,
                "samba did not answer: {}",
                std::fs::read_to_string(dc.dir.join("stdout.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        dc
    }

    fn ldap_cmd(&self, tool: &str, ldaps: bool) -> Command {
        let mut cmd = Command::new(tool);
        let url = if ldaps {
            "ldaps://127.0.0.1:636"
        } else {
            "ldap://127.0.0.1:389"
        };
        cmd.args(["-x", "-H", url, "-D", ADMIN_DN, "-w", ADMIN_PW])
            .env("LDAPTLS_CACERT", &self.ca_file);
        cmd
    }

    fn try_search(&self, base: &str, scope: &str, filter: &str, attrs: &[&str]) -> Option<String> {
        let out = self
            .ldap_cmd("ldapsearch", false)
            .args([
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-b",
                base,
                "-s",
                scope,
                filter,
            ])
            .args(attrs)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `ldapsearch` as the administrator, LDIF out.
    pub fn search(&self, base: &str, filter: &str, attrs: &[&str]) -> String {
        self.try_search(base, "sub", filter, attrs)
            .unwrap_or_else(|| panic!("search {base} {filter} failed"))
    }

    /// Applies LDIF as the administrator, over LDAPS (AD sets passwords only over TLS).
    pub fn modify(&self, ldif: &str) {
        let mut child = self
            .ldap_cmd("ldapmodify", true)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ldapmodify runs (package ldap-utils)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ldif.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "ldapmodify: {}\n{ldif}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Binds as `dn` with `password`; answers the server's diagnostic on refusal.
    pub fn bind_as(&self, dn: &str, password: &str) -> Result<(), String> {
        let out = Command::new("ldapwhoami")
            .args(["-x", "-H", "ldap://127.0.0.1:389", "-D", dn, "-w", password])
            .output()
            .unwrap();
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A fresh OU for one test.
    pub fn ou(&'static self, tag: &str) -> Ou {
        let name = format!(
            "{tag}-{}-{}",
            std::process::id(),
            OU_SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let dn = format!("OU={name},{ROOT}");
        self.modify(&format!(
            "dn: {dn}\nchangetype: add\nobjectClass: organizationalUnit\nou: {name}\n\n"
        ));
        Ou { dc: self, dn, name }
    }

    /// The highest committed USN, as the root DSE tells it.
    pub fn highest_usn(&self) -> u64 {
        let text = self
            .try_search("", "base", "(objectClass=*)", &["highestCommittedUSN"])
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("highestCommittedUSN: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    }
}

/// AD's `unicodePwd`: the quoted password in UTF-16LE, base64 for LDIF.
pub fn unicode_pwd(password: &str) -> String {
    let bytes: Vec<u8> = format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Base64 for an LDIF value that is not plain ASCII.
pub fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}

/// One test's corner of the domain.
pub struct Ou {
    pub dc: &'static Samba,
    pub dn: String,
    pub name: String,
}

impl Ou {
    pub fn user_dn(&self, sam: &str) -> String {
        format!("CN={sam},{}", self.dn)
    }

    pub fn group_dn(&self, name: &str) -> String {
        format!("CN={name},{}", self.dn)
    }

    /// An enabled user with a password and a mail address.
    pub fn user(&self, sam: &str, password: &str) {
        self.user_with(sam, password, &format!("mail: {sam}@{REALM}\n"));
    }

    /// An enabled user; `extra` is more LDIF attribute lines.
    pub fn user_with(&self, sam: &str, password: &str, extra: &str) {
        self.dc.modify(&format!(
            "dn: {dn}\nchangetype: add\nobjectClass: user\nsAMAccountName: {sam}\n\
             userPrincipalName: {sam}@{REALM}\ndisplayName: {sam} Example\n{extra}\
             unicodePwd:: {pwd}\nuserAccountControl: 512\n\n",
            dn = self.user_dn(sam),
            pwd = unicode_pwd(password)
        ));
    }

    /// A global security group with these members (user or group common names in this OU).
    pub fn group(&self, name: &str, members: &[&str]) {
        let mut ldif = format!(
            "dn: {}\nchangetype: add\nobjectClass: group\nsAMAccountName:: {}\n",
            self.group_dn(name),
            b64(&format!("{name}-{}", self.name)
                .chars()
                .take(60)
                .collect::<String>())
        );
        for m in members {
            ldif.push_str(&format!("member: {}\n", self.user_dn(m)));
        }
        ldif.push('\n');
        self.dc.modify(&ldif);
    }

    pub fn replace(&self, sam: &str, attr: &str, value: &str) {
        self.dc.modify(&format!(
            "dn: {}\nchangetype: modify\nreplace: {attr}\n{attr}: {value}\n-\n\n",
            self.user_dn(sam)
        ));
    }

    pub fn disable(&self, sam: &str) {
        self.replace(sam, "userAccountControl", "514");
    }

    pub fn enable(&self, sam: &str) {
        self.replace(sam, "userAccountControl", "512");
    }

    pub fn remove_member(&self, group: &str, sam: &str) {
        self.dc.modify(&format!(
            "dn: {}\nchangetype: modify\ndelete: member\nmember: {}\n-\n\n",
            self.group_dn(group),
            self.user_dn(sam)
        ));
    }

    pub fn add_member(&self, group: &str, sam: &str) {
        self.dc.modify(&format!(
            "dn: {}\nchangetype: modify\nadd: member\nmember: {}\n-\n\n",
            self.group_dn(group),
            self.user_dn(sam)
        ));
    }

    pub fn delete(&self, sam: &str) {
        self.dc.modify(&format!(
            "dn: {}\nchangetype: delete\n\n",
            self.user_dn(sam)
        ));
    }

    /// `accountExpires` at `unix` seconds (Windows FILETIME: 100 ns since 1601).
    pub fn expire_at(&self, sam: &str, unix: i64) {
        let filetime = (unix + 11_644_473_600) * 10_000_000;
        self.replace(sam, "accountExpires", &filetime.to_string());
    }

    /// The `[corp]` LDAP source over this OU, in poll mode unless `extra` says otherwise.
    pub fn source_toml(&self, extra: &str) -> String {
        format!(
            "[corp]\nflavour = \"active-directory\"\nurl = \"ldap://127.0.0.1:389\"\n\
             bind_dn = \"{ADMIN_DN}\"\nbind_password = \"{ADMIN_PW}\"\n\
             base_dn = \"{}\"\ntimeout = \"10s\"\n{extra}",
            self.dn
        )
    }

    pub fn sources(&self, extra: &str) -> Vec<staffgate::directory::ldap::LdapSource> {
        let value: toml::Value = toml::from_str(&self.source_toml(extra)).unwrap();
        staffgate::directory::ldap::config::parse_sources(&value).unwrap()
    }
}
