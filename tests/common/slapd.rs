//! A real, throw-away OpenLDAP `slapd` per test: its own directory, generated config with the
//! mdb backend and the syncprov, memberof and ppolicy overlays, a random loopback port.
//! Changes go through the real `ldapmodify` client.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SUFFIX: &str = "dc=example,dc=org";
pub const ROOT_DN: &str = "cn=admin,dc=example,dc=org";
pub const ROOT_PW: &str = "root-secret";
pub const SYNC_DN: &str = "cn=staffgate,dc=example,dc=org";
pub const SYNC_PW: &str = "sync-secret-9f3k";

pub struct Slapd {
    pub port: u16,
    pub url: String,
    /// Set when started with a certificate: the `ldaps://` listener.
    pub ldaps_url: Option<String>,
    tls: bool,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

fn slapd_binary() -> PathBuf {
    for p in ["/usr/sbin/slapd", "/usr/local/sbin/slapd"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "slapd is not installed: run `bash scripts/test.sh`, which installs slapd and ldap-utils"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(dir: &Path, tls: bool) -> String {
    let d = dir.display();
    let tls = if tls {
        format!("TLSCertificateFile {d}/server.pem\nTLSCertificateKeyFile {d}/server.key\n")
    } else {
        String::new()
    };
    format!(
        "{tls}include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload syncprov
moduleload memberof
moduleload ppolicy
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
sizelimit unlimited
database mdb
suffix \"{SUFFIX}\"
rootdn \"{ROOT_DN}\"
rootpw {ROOT_PW}
directory {d}/data
maxsize 2147483648
dbnosync
index objectClass,entryUUID,entryCSN,uid eq
limits dn.exact=\"{SYNC_DN}\" size=unlimited time=unlimited
overlay syncprov
syncprov-checkpoint 100 1
syncprov-sessionlog 10000
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
overlay ppolicy
ppolicy_default \"cn=default,ou=policies,{SUFFIX}\"
"
    )
}

/// The entries every test directory starts with: the tree, the service account, a policy.
pub fn base_ldif() -> String {
    format!(
        "dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: {SYNC_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: staffgate
userPassword: {SYNC_PW}

dn: ou=people,{SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: ou=policies,{SUFFIX}
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,{SUFFIX}
objectClass: pwdPolicy
objectClass: device
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
pwdMaxFailure: 1000

"
    )
}

/// One person's entry.
pub fn person_ldif(uid: &str, password: &str) -> String {
    format!(
        "dn: uid={uid},ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: {uid}
cn: {uid} Person
sn: Person
mail: {uid}@example.org
userPassword: {password}
departmentNumber: 42

"
    )
}

/// A group with its members (uids).
pub fn group_ldif(cn: &str, members: &[&str]) -> String {
    let mut text = format!("dn: cn={cn},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: {cn}\n");
    for m in members {
        text.push_str(&format!("member: uid={m},ou=people,{SUFFIX}\n"));
    }
    if members.is_empty() {
        // groupOfNames needs a member; the service account stands in.
        text.push_str(&format!("member: {SYNC_DN}\n"));
    }
    text.push('\n');
    text
}

impl Slapd {
    /// Starts an empty directory with the base entries.
    pub fn start() -> Slapd {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, None, false)
    }

    /// Starts with a server certificate (PEM), listening on `ldap://` (StartTLS) and `ldaps://`.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Slapd {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("server.pem"), cert_pem).unwrap();
        std::fs::write(dir.path().join("server.key"), key_pem).unwrap();
        Self::start_in(dir, None, true)
    }

    /// Starts with `bulk` loaded by `slapadd` before the server starts (fast; overlays do not
    /// run, so the LDIF must carry memberOf itself).
    pub fn start_bulk(bulk: &Path) -> Slapd {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, Some(bulk), false)
    }

    fn start_in(dir: tempfile::TempDir, bulk: Option<&Path>, tls: bool) -> Slapd {
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let conf = dir.path().join("slapd.conf");
        std::fs::write(&conf, config(dir.path(), tls)).unwrap();
        if let Some(bulk) = bulk {
            let out = Command::new("/usr/sbin/slapadd")
                .args(["-q", "-f"])
                .arg(&conf)
                .arg("-l")
                .arg(bulk)
                .output()
                .expect("slapadd runs");
            assert!(
                out.status.success(),
                "slapadd: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut slapd = Slapd {
            port: 0,
            url: String::new(),
            ldaps_url: None,
            tls,
            dir,
            child: None,
        };
        slapd.launch();
        if bulk.is_none() {
            slapd.modify(&base_ldif(), true);
        }
        slapd
    }

    fn launch(&mut self) {
        let port = free_port();
        let url = format!("ldap://127.0.0.1:{port}");
        let mut listen = format!("{url}/");
        if self.tls {
            let ldaps = format!("ldaps://127.0.0.1:{}", free_port());
            listen = format!("{listen} {ldaps}/");
            self.ldaps_url = Some(ldaps);
        }
        let log = std::fs::File::create(self.dir.path().join("slapd.log")).unwrap();
        let child = Command::new(slapd_binary())
            .arg("-f")
            .arg(self.dir.path().join("slapd.conf"))
            .arg("-h")
            .arg(listen)
            .args(["-d", "0"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("slapd starts");
        self.port = port;
        self.url = url;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = Command::new("ldapsearch")
                .args([
                    "-x",
                    "-H",
                    &self.url,
                    "-b",
                    "",
                    "-s",
                    "base",
                    "(objectClass=*)",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "slapd did not answer: {}",
                std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Applies LDIF with the real `ldapmodify` as the directory's root (`add` for plain entries).
    pub fn modify(&self, ldif: &str, add: bool) {
        let mut cmd = Command::new("ldapmodify");
        cmd.args(["-x", "-H", &self.url, "-D", ROOT_DN, "-w", ROOT_PW]);
        if add {
            cmd.arg("-a");
        }
        let mut child = cmd
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

    pub fn add(&self, ldif: &str) {
        self.modify(ldif, true);
    }

    pub fn delete(&self, dn: &str) {
        self.modify(&format!("dn: {dn}\nchangetype: delete\n\n"), false);
    }

    /// Kills the server (the port closes); `resume` starts it again on a new port with the
    /// same data.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn resume(&mut self) {
        self.launch();
    }

    /// The `[ldap.corp]` configuration for this directory.
    pub fn source_toml(&self, extra: &str) -> String {
        format!(
            "[corp]\nurl = \"{}\"\nbind_dn = \"{SYNC_DN}\"\nbind_password = \"{SYNC_PW}\"\n\
             base_dn = \"ou=people,{SUFFIX}\"\ntimeout = \"5s\"\n{extra}",
            self.url
        )
    }

    pub fn sources(&self, extra: &str) -> Vec<staffgate::directory::ldap::LdapSource> {
        let value: toml::Value = toml::from_str(&self.source_toml(extra)).unwrap();
        staffgate::directory::ldap::config::parse_sources(&value).unwrap()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Writes the directory as LDIF for slapadd: memberOf is written out, since slapadd runs no
/// overlays. Each user is in `per_user` of the `groups` groups (`groupNNN`).
pub fn write_bulk_ldif(path: &Path, users: usize, groups: usize, per_user: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    std::io::Write::write_all(&mut f, base_ldif().as_bytes()).unwrap();
    let group_of = |u: usize, k: usize| (u * 7 + k * 131) % groups;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups];
    for u in 0..users {
        for k in 0..per_user {
            members[group_of(u, k)].push(u);
        }
    }
    for u in 0..users {
        write!(
            f,
            "dn: uid=user{u:06},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: user{u:06}\n\
             cn: User {u}\nsn: User\nmail: user{u:06}@example.org\nuserPassword: pw{u}\n"
        )
        .unwrap();
        for k in 0..per_user {
            writeln!(
                f,
                "memberOf: cn=group{:03},ou=groups,{SUFFIX}",
                group_of(u, k)
            )
            .unwrap();
        }
        writeln!(f).unwrap();
    }
    for (g, list) in members.iter().enumerate() {
        writeln!(
            f,
            "dn: cn=group{g:03},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: group{g:03}"
        )
        .unwrap();
        for u in list {
            writeln!(f, "member: uid=user{u:06},ou=people,{SUFFIX}").unwrap();
        }
        if list.is_empty() {
            writeln!(f, "member: {}", SYNC_DN).unwrap();
        }
        writeln!(f).unwrap();
    }
}
