//! The hall's own small PKI, all in files under `DATA_DIR/tls/`: the hall
//! CA, the server certificate, one-time pairing codes, the device
//! certificates signed from them, and the revocation list.
//!
//! A device certificate is the device's credential: its subject says the
//! role (OU) and the device id (CN), and only the hall CA signs it, so the
//! server reads both from the certificate the TLS layer verified. Nothing
//! here touches sled: `enroll` and `devices` work while a server runs on
//! the same data dir (sled locks it), and the server picks up a revocation
//! within a second (`Revocations`).
//!
//! Layout:
//! - `ca.pem`, `ca.key` — the hall CA (key mode 0600), 10 years;
//! - `server.pem`, `server.key` — the server's certificate, valid for
//!   127.0.0.1, ::1, localhost and the configured names, 2 years;
//! - `pairing/<sha256 of the code>` — a pending pairing (role, id, expiry);
//!   the code itself is printed once and stored nowhere;
//! - `devices/<serial>.pem` — every certificate the CA signed for a device;
//! - `revoked` — one line per revoked certificate: `serial role id time`.

use chrono::{Datelike, Duration as Days, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// How long a pairing code can be redeemed.
pub const PAIRING_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a device certificate is valid; re-enrolling renews it.
pub const DEVICE_DAYS: i64 = 365;
const SERVER_DAYS: i64 = 2 * 365;
const CA_DAYS: i64 = 10 * 365;

/// Who a caller is, as far as the role table cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Kiosk,
    Board,
    Counter,
    Supervisor,
    Admin,
    /// The rating pad (评价器) facing the citizen at one window; its id is
    /// `pad-N`, N the window it is bound to.
    Pad,
    /// A browser at `/console` (never a certificate): it only logs a
    /// supervisor or admin in; the session's role does the rest.
    Console,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Kiosk,
        Role::Board,
        Role::Counter,
        Role::Supervisor,
        Role::Admin,
        Role::Pad,
        Role::Console,
    ];

    /// The window a pad's id (`pad-N`) binds it to.
    pub fn pad_window(id: &str) -> Option<u32> {
        id.strip_prefix("pad-")?.parse().ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Kiosk => "kiosk",
            Role::Board => "board",
            Role::Counter => "counter",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::Pad => "pad",
            Role::Console => "console",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Role, Error> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Error::BadRole(s.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("unknown role '{0}' (kiosk, board, counter, pad, supervisor or admin)")]
    BadRole(String),
    #[error("{0}")]
    NotEnrollable(String),
    #[error("a device id is 1-64 characters of a-z, A-Z, 0-9, '-', '_' or '.'; got '{0}'")]
    BadId(String),
    #[error("no hall CA in {0}: run `hall-server init --data-dir DIR` first")]
    NoCa(PathBuf),
    #[error("the pairing code is unknown, already used or expired")]
    BadCode,
    #[error("the certificate request cannot be read: {0}")]
    BadCsr(String),
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The `tls` folder of a data dir.
pub fn tls_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tls")
}

/// What `init` did.
#[derive(Debug)]
pub struct Initialized {
    pub created: bool,
    pub ca: PathBuf,
}

/// Creates the hall CA and the server certificate under `DATA_DIR/tls`, if
/// they are not there yet (an existing CA is kept: every enrolled device
/// trusts it). `names` are extra DNS names or IP addresses for the server
/// certificate besides 127.0.0.1, ::1 and localhost.
pub fn init(data_dir: &Path, names: &[String]) -> Result<Initialized, Error> {
    let dir = tls_dir(data_dir);
    let ca_path = dir.join("ca.pem");
    let have_ca = ca_path.exists();
    if have_ca && dir.join("server.pem").exists() {
        return Ok(Initialized {
            created: false,
            ca: ca_path,
        });
    }
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    // An existing CA is never replaced: every enrolled device trusts it and
    // holds a certificate from it. Only a missing server certificate (an
    // expired one removed to renew it) is made again, from the same CA.
    let issuer = if have_ca {
        Ca::load(data_dir)?.issuer
    } else {
        let ca_key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn("政务大厅 hall CA", "ca");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut params, CA_DAYS);
        let ca = params.self_signed(&ca_key)?;
        write_private(&dir.join("ca.key"), &ca_key.serialize_pem())?;
        write(&ca_path, &ca.pem())?;
        Issuer::new(params, ca_key)
    };
    let key = KeyPair::generate()?;
    let mut sans = vec!["127.0.0.1".to_string(), "::1".into(), "localhost".into()];
    sans.extend(names.iter().cloned());
    let mut params = CertificateParams::new(sans)?;
    params.distinguished_name = dn("hall-server", "server");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(serial());
    validity(&mut params, SERVER_DAYS);
    let cert = params.signed_by(&key, &issuer)?;
    write_private(&dir.join("server.key"), &key.serialize_pem())?;
    write(&dir.join("server.pem"), &cert.pem())?;
    Ok(Initialized {
        created: !have_ca,
        ca: ca_path,
    })
}

/// The server's TLS material: its certificate and key, and the CA that
/// client certificates must chain to.
#[derive(Debug, Clone)]
pub struct ServerFiles {
    pub cert_pem: String,
    pub key_pem: String,
    pub ca_pem: String,
}

pub fn server_files(data_dir: &Path) -> Result<ServerFiles, Error> {
    let dir = tls_dir(data_dir);
    if !dir.join("ca.pem").exists() {
        return Err(Error::NoCa(data_dir.to_path_buf()));
    }
    let read = |name: &str| {
        let p = dir.join(name);
        std::fs::read_to_string(&p).map_err(io(&p))
    };
    Ok(ServerFiles {
        cert_pem: read("server.pem")?,
        key_pem: read("server.key")?,
        ca_pem: read("ca.pem")?,
    })
}

fn check_id(id: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::BadId(hall_proto::errors::echo(id)))
    }
}

/// Creates a one-time pairing code for a device with this role and id,
/// valid for [`PAIRING_TTL`]. Only the code's SHA-256 is written; the
/// code is returned to be shown once.
pub fn enroll(data_dir: &Path, role: Role, id: &str) -> Result<String, Error> {
    check_id(id)?;
    // A console is a browser a staff member logs in from, never a
    // certificate; a pad's id names its window.
    if role == Role::Console {
        return Err(Error::NotEnrollable(
            "a console is a browser at /console where staff log in with their passwords, not an enrolled device".into(),
        ));
    }
    if role == Role::Pad && Role::pad_window(id).is_none() {
        return Err(Error::NotEnrollable(format!(
            "a rating pad's id is pad-N, N the window it serves; got '{id}'"
        )));
    }
    let dir = tls_dir(data_dir);
    if !dir.join("ca.pem").exists() {
        return Err(Error::NoCa(data_dir.to_path_buf()));
    }
    let pending = dir.join("pairing");
    std::fs::create_dir_all(&pending).map_err(io(&pending))?;
    // 10 characters of a 32-letter alphabet without 0/O/1/I: 50 bits,
    // typed by hand on a kiosk's keyboard; guessing is bounded by the
    // 10-minute life and the redeem lockout.
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let letters: String = (0..10)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect();
    let code = format!("{}-{}", &letters[..5], &letters[5..]);
    let expires = SystemTime::now() + PAIRING_TTL;
    let expires_ms = expires
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let path = pending.join(code_digest(&code));
    write_private(
        &path,
        &format!("role={role}\nid={id}\nexpires_ms={expires_ms}\n"),
    )?;
    Ok(code)
}

fn code_digest(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    hex::encode(Sha256::digest(normal.as_bytes()))
}

/// Claims a pairing code: the pending file is renamed away first, so two
/// redeems of one code cannot both succeed. Returns the role and id it
/// was made for.
pub fn claim(data_dir: &Path, code: &str, now: SystemTime) -> Result<(Role, String), Error> {
    let pending = tls_dir(data_dir).join("pairing");
    let path = pending.join(code_digest(code));
    let claimed = path.with_extension("used");
    // A code too long to be one is no file name either.
    if code.len() > 32 || std::fs::rename(&path, &claimed).is_err() {
        return Err(Error::BadCode);
    }
    let text = std::fs::read_to_string(&claimed).map_err(io(&claimed))?;
    let _ = std::fs::remove_file(&claimed);
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(str::to_string)
    };
    let expires_ms: u128 = field("expires_ms")
        .and_then(|v| v.parse().ok())
        .ok_or(Error::BadCode)?;
    let now_ms = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    if now_ms > expires_ms {
        return Err(Error::BadCode);
    }
    let role = field("role").ok_or(Error::BadCode)?.parse()?;
    let id = field("id").ok_or(Error::BadCode)?;
    Ok((role, id))
}

/// The role a pending pairing code was made for, without claiming it
/// (`None`: unknown, used or malformed). For refusing a code meant for
/// another kind of device before using it up.
pub fn pairing_role(data_dir: &Path, code: &str) -> Option<Role> {
    if code.len() > 32 {
        return None;
    }
    let path = tls_dir(data_dir).join("pairing").join(code_digest(code));
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("role")?.strip_prefix('='))?
        .parse()
        .ok()
}

/// The hall CA, loaded to sign device certificates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub ca_pem: String,
    dir: PathBuf,
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca").field("dir", &self.dir).finish()
    }
}

impl Ca {
    pub fn load(data_dir: &Path) -> Result<Ca, Error> {
        let dir = tls_dir(data_dir);
        let ca_path = dir.join("ca.pem");
        if !ca_path.exists() {
            return Err(Error::NoCa(data_dir.to_path_buf()));
        }
        let ca_pem = std::fs::read_to_string(&ca_path).map_err(io(&ca_path))?;
        let key_path = dir.join("ca.key");
        let key = KeyPair::from_pem(&std::fs::read_to_string(&key_path).map_err(io(&key_path))?)?;
        let issuer = Issuer::from_ca_cert_pem(&ca_pem, key)?;
        Ok(Ca {
            issuer,
            ca_pem,
            dir,
        })
    }

    /// Signs a device's certificate request for the role and id of its
    /// pairing: the subject and usages come from here, only the public key
    /// from the request. The certificate is kept under `devices/`.
    pub fn sign_csr(&self, csr_pem: &str, role: Role, id: &str) -> Result<String, Error> {
        let csr = read_csr(csr_pem)?;
        let params = device_params(role, id, -1, DEVICE_DAYS)?;
        let cert = params.signed_by(&csr.public_key, &self.issuer)?;
        self.keep(&params, &cert.pem())?;
        Ok(cert.pem())
    }

    /// A device's key and certificate made here in one step: for the
    /// whole-hall runner and the tests, which stand for the device
    /// themselves. `from_days`/`days` set the validity (negative start =
    /// already valid; a test makes an expired one with both negative).
    pub fn issue(
        &self,
        role: Role,
        id: &str,
        from_days: i64,
        days: i64,
    ) -> Result<Identity, Error> {
        check_id(id)?;
        let key = KeyPair::generate()?;
        let params = device_params(role, id, from_days, days)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        self.keep(&params, &cert.pem())?;
        Ok(Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            ca_pem: self.ca_pem.clone(),
        })
    }

    fn keep(&self, params: &CertificateParams, pem: &str) -> Result<(), Error> {
        let devices = self.dir.join("devices");
        std::fs::create_dir_all(&devices).map_err(io(&devices))?;
        let serial = params
            .serial_number
            .as_ref()
            .map(|s| hex::encode(s.to_bytes()))
            .unwrap_or_default();
        write(&devices.join(format!("{serial}.pem")), pem)
    }
}

/// Reads and verifies (its self-signature) a certificate request: done
/// before a pairing code is claimed, so a malformed request does not use
/// the code up.
pub fn read_csr(csr_pem: &str) -> Result<CertificateSigningRequestParams, Error> {
    CertificateSigningRequestParams::from_pem(csr_pem).map_err(|e| Error::BadCsr(e.to_string()))
}

fn device_params(
    role: Role,
    id: &str,
    from_days: i64,
    days: i64,
) -> Result<CertificateParams, Error> {
    check_id(id)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(id, role.as_str());
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(serial());
    let start = Utc::now() + Days::days(from_days);
    set_validity(&mut params, start, start + Days::days(days));
    Ok(params)
}

/// A device's credential: its certificate and key and the hall CA, as the
/// three files `redeem` writes (`device.pem`, `device.key`, `ca.pem`).
#[derive(Clone)]
pub struct Identity {
    pub cert_pem: String,
    pub key_pem: String,
    pub ca_pem: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

impl Identity {
    pub fn write_to(&self, dir: &Path) -> Result<(), Error> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        write(&dir.join("device.pem"), &self.cert_pem)?;
        write_private(&dir.join("device.key"), &self.key_pem)?;
        write(&dir.join("ca.pem"), &self.ca_pem)
    }
}

/// A new key and a certificate request for it (the device side of a
/// pairing): the key stays on the device.
pub fn new_request(id: &str) -> Result<(KeyPair, String), Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(id, "device");
    let csr = params.serialize_request(&key)?;
    Ok((key, csr.pem()?))
}

/// What a verified client certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub role: Role,
    pub id: String,
    /// Hex, as in `devices/` and `revoked`.
    pub serial: String,
}

/// Reads role, id and serial from a certificate (DER) the TLS layer has
/// already verified against the hall CA.
pub fn subject_of(der: &[u8]) -> Option<Subject> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let role = subject
        .iter_organizational_unit()
        .next()?
        .as_str()
        .ok()?
        .parse()
        .ok()?;
    let id = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    Some(Subject {
        role,
        id,
        serial: hex::encode(cert.raw_serial()),
    })
}

/// One certificate the CA signed, for `hall-server devices`.
#[derive(Debug, Clone)]
pub struct Device {
    pub subject: Subject,
    pub not_after: String,
    pub revoked: bool,
}

/// Every device certificate signed for this hall, oldest first.
pub fn devices(data_dir: &Path) -> Result<Vec<Device>, Error> {
    let dir = tls_dir(data_dir).join("devices");
    let revoked = read_revoked(data_dir)?;
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&dir)(e)),
    };
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).map_err(io(&entry.path()))?;
        let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(text.as_bytes()) else {
            continue;
        };
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(&pem.contents) else {
            continue;
        };
        let Some(subject) = subject_of(&pem.contents) else {
            continue;
        };
        out.push((
            cert.validity().not_before.timestamp(),
            Device {
                revoked: revoked.contains(&subject.serial),
                not_after: cert.validity().not_after.to_string(),
                subject,
            },
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.subject.id.cmp(&b.1.subject.id)));
    Ok(out.into_iter().map(|(_, d)| d).collect())
}

/// Revokes every certificate of the device `id`; returns how many were
/// revoked now. A running server refuses them within a second.
pub fn revoke(data_dir: &Path, id: &str) -> Result<usize, Error> {
    let mut n = 0;
    let mut lines = String::new();
    for d in devices(data_dir)? {
        if d.subject.id == id && !d.revoked {
            lines.push_str(&format!(
                "{} {} {} {}\n",
                d.subject.serial,
                d.subject.role,
                d.subject.id,
                Utc::now().to_rfc3339()
            ));
            n += 1;
        }
    }
    if n > 0 {
        use std::io::Write;
        let path = tls_dir(data_dir).join("revoked");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        f.write_all(lines.as_bytes()).map_err(io(&path))?;
        f.sync_all().map_err(io(&path))?;
    }
    Ok(n)
}

fn read_revoked(data_dir: &Path) -> Result<HashSet<String>, Error> {
    let path = tls_dir(data_dir).join("revoked");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashSet::new()),
        Err(e) => Err(io(&path)(e)),
    }
}

/// The revocation list as the server sees it: re-read when the file
/// changed, looked at no more than once a second.
#[derive(Debug)]
pub struct Revocations {
    data_dir: PathBuf,
    state: std::sync::Mutex<(Instant, Option<(SystemTime, u64)>, HashSet<String>)>,
}

impl Revocations {
    pub fn new(data_dir: &Path) -> Revocations {
        let set = read_revoked(data_dir).unwrap_or_default();
        let stamp = Self::stamp(data_dir);
        Revocations {
            data_dir: data_dir.to_path_buf(),
            state: std::sync::Mutex::new((Instant::now(), stamp, set)),
        }
    }

    /// The list's modification time and size: the list only grows, so a
    /// revocation within one tick of a coarse clock still changes the size.
    fn stamp(data_dir: &Path) -> Option<(SystemTime, u64)> {
        std::fs::metadata(tls_dir(data_dir).join("revoked"))
            .and_then(|m| Ok((m.modified()?, m.len())))
            .ok()
    }

    pub fn is_revoked(&self, serial: &str) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.0.elapsed() >= Duration::from_secs(1) {
            st.0 = Instant::now();
            let stamp = Self::stamp(&self.data_dir);
            if stamp != st.1 {
                match read_revoked(&self.data_dir) {
                    Ok(set) => {
                        st.1 = stamp;
                        st.2 = set;
                    }
                    // Keeps the last list it read: a revocation is never undone
                    // by a read error.
                    Err(e) => tracing::warn!(error = %e, "reading the revocation list"),
                }
            }
        }
        st.2.contains(serial)
    }
}

fn dn(cn: &str, ou: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "hall");
    dn.push(DnType::OrganizationalUnitName, ou);
    dn.push(DnType::CommonName, cn);
    dn
}

fn serial() -> SerialNumber {
    // 16 random bytes, the top bit cleared: a positive DER integer.
    let mut b: [u8; 16] = rand::random();
    b[0] &= 0x7f;
    b[0] |= 0x01;
    SerialNumber::from_slice(&b)
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = Utc::now();
    set_validity(params, now - Days::days(1), now + Days::days(days));
}

/// Whole days (UTC midnight): a day before now covers clocks a little behind.
fn set_validity(
    params: &mut CertificateParams,
    from: chrono::DateTime<Utc>,
    to: chrono::DateTime<Utc>,
) {
    params.not_before = rcgen::date_time_ymd(from.year(), from.month() as u8, from.day() as u8);
    params.not_after = rcgen::date_time_ymd(to.year(), to.month() as u8, to.day() as u8);
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(io(path))
}

fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(text.as_bytes()).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pairing_code_is_claimed_once_and_only_before_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            enroll(dir.path(), Role::Kiosk, "k1"),
            Err(Error::NoCa(_))
        ));
        init(dir.path(), &[]).unwrap();
        let code = enroll(dir.path(), Role::Kiosk, "kiosk-3").unwrap();
        assert_eq!(code.len(), 11);
        // Only the digest is on disk, never the code.
        let files: Vec<String> = std::fs::read_dir(tls_dir(dir.path()).join("pairing"))
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        assert!(files.iter().all(|f| !f.contains(&code)), "{files:?}");
        // Typed in lower case without the dash: the same code.
        let typed = code.replace('-', "").to_lowercase();
        assert_eq!(
            claim(dir.path(), &typed, SystemTime::now()).unwrap(),
            (Role::Kiosk, "kiosk-3".to_string())
        );
        assert!(matches!(
            claim(dir.path(), &code, SystemTime::now()),
            Err(Error::BadCode)
        ));

        let late = enroll(dir.path(), Role::Board, "board-1").unwrap();
        let after = SystemTime::now() + PAIRING_TTL + Duration::from_secs(1);
        assert!(matches!(
            claim(dir.path(), &late, after),
            Err(Error::BadCode)
        ));
        // An expired claim used the code up too.
        assert!(matches!(
            claim(dir.path(), &late, SystemTime::now()),
            Err(Error::BadCode)
        ));
    }

    #[test]
    fn a_signed_request_carries_the_pairing_role_and_id_not_the_requesters() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), &["hall.example".into()]).unwrap();
        let ca = Ca::load(dir.path()).unwrap();
        // The device asks for an admin's name; the pairing says kiosk-3.
        let (_key, csr) = new_request("admin").unwrap();
        let pem = ca.sign_csr(&csr, Role::Kiosk, "kiosk-3").unwrap();
        let (_, der) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        let s = subject_of(&der.contents).unwrap();
        assert_eq!((s.role, s.id.as_str()), (Role::Kiosk, "kiosk-3"));
        assert!(matches!(
            ca.sign_csr("not a csr", Role::Kiosk, "k"),
            Err(Error::BadCsr(_))
        ));
        assert!(matches!(
            ca.issue(Role::Kiosk, "bad id/..", -1, 1),
            Err(Error::BadId(_))
        ));
        // Listed, revoked once, and the list says so.
        let listed = devices(dir.path()).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(revoke(dir.path(), "kiosk-3").unwrap(), 1);
        assert_eq!(revoke(dir.path(), "kiosk-3").unwrap(), 0);
        assert!(devices(dir.path()).unwrap()[0].revoked);
        let r = Revocations::new(dir.path());
        assert!(r.is_revoked(&s.serial));
        // init keeps an existing CA: every enrolled device trusts it.
        let before = std::fs::read_to_string(tls_dir(dir.path()).join("ca.pem")).unwrap();
        assert!(!init(dir.path(), &[]).unwrap().created);
        assert_eq!(
            before,
            std::fs::read_to_string(tls_dir(dir.path()).join("ca.pem")).unwrap()
        );
    }
}
