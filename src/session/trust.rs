//! Telling this user's own sessions from foreign ones. A session file can
//! carry a workflow's text, and `resume` runs that text when the original
//! file is gone; a file someone sent could carry any program. A hash inside
//! the file proves nothing (a crafted file carries a matching one), so the
//! proof is a MAC under a key only this user has: HMAC-SHA256 over the
//! header, with a random key in the user's data directory (mode 0600).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use super::Header;

/// Prefix of a header's `mac`.
const MAC_PREFIX: &str = "hmac-sha256:";

/// The key's file name in the user's data directory.
const KEY_FILE: &str = "session.key";

const KEY_BYTES: usize = 32;

/// This user's session key.
pub struct UserKey([u8; KEY_BYTES]);

impl UserKey {
    /// Where the key lives: `session.key` in the user's data directory.
    pub fn default_path() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "agentctl").map(|d| d.data_dir().join(KEY_FILE))
    }

    /// Reads the key at `path`, creating it (0600, in a 0700 directory) when
    /// there is none.
    pub fn load_or_create(path: &Path) -> std::io::Result<UserKey> {
        if let Some(k) = Self::load(path)? {
            return Ok(k);
        }
        if let Some(dir) = path.parent() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(dir)?;
        }
        let mut key = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut key);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut f) => {
                f.write_all(&key)?;
                f.sync_all()?;
                Ok(UserKey(key))
            }
            // Another agentctl created it first: use that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::load(path)?.ok_or_else(|| std::io::Error::other("the session key vanished"))
            }
            Err(e) => Err(e),
        }
    }

    /// Reads the key at `path`; `None` when there is none yet. A key others
    /// can read or write, or of the wrong size, is refused.
    pub fn load(path: &Path) -> std::io::Result<Option<UserKey>> {
        let file = match crate::workflow::source_file::open_regular(path) {
            Ok(f) => f,
            Err(crate::workflow::source_file::SourceError::Io(e))
                if e.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(None);
            }
            Err(e) => return Err(std::io::Error::other(e.to_string())),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = file.metadata()?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(std::io::Error::other(format!(
                    "{} is readable or writable by others (mode {:o}); run chmod 600 on it",
                    path.display(),
                    mode & 0o777
                )));
            }
        }
        let mut bytes = Vec::with_capacity(KEY_BYTES);
        file.take(KEY_BYTES as u64 + 1).read_to_end(&mut bytes)?;
        let key: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| {
            std::io::Error::other(format!(
                "{} is not a session key ({KEY_BYTES} bytes); remove it to make a new one",
                path.display()
            ))
        })?;
        Ok(Some(UserKey(key)))
    }

    /// The key as raw bytes, for tests that make their own keys.
    pub fn from_bytes(key: [u8; KEY_BYTES]) -> UserKey {
        UserKey(key)
    }

    /// Sets the header's `mac` to this key's MAC of it.
    pub fn sign(&self, header: &mut Header) {
        header.mac = None;
        let tag = self.mac(header).finalize().into_bytes();
        header.mac = Some(format!("{MAC_PREFIX}{}", hex(&tag)));
    }

    /// Whether this key made the header's `mac` (a constant-time check).
    pub fn verify(&self, header: &Header) -> bool {
        let Some(tag) = header
            .mac
            .as_deref()
            .and_then(|m| m.strip_prefix(MAC_PREFIX))
        else {
            return false;
        };
        let Some(tag) = unhex(tag) else { return false };
        let mut unsigned = header.clone();
        unsigned.mac = None;
        self.mac(&unsigned).verify_slice(&tag).is_ok()
    }

    fn mac(&self, unsigned: &Header) -> Hmac<Sha256> {
        let mut m =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key size");
        // The header's own serialization: fields in declaration order,
        // object keys sorted, so reading it back gives the same bytes.
        m.update(&serde_json::to_vec(unsigned).unwrap_or_default());
        m
    }
}

/// Signs a new session's header with this user's key (created on first
/// use). On failure the header stays unsigned: resuming it will ask, as for
/// a foreign one.
pub fn sign_as_user(header: &mut Header) -> std::io::Result<()> {
    let path = UserKey::default_path()
        .ok_or_else(|| std::io::Error::other("no user data directory for the session key"))?;
    UserKey::load_or_create(&path)?.sign(header);
    Ok(())
}

/// Whether this user's agentctl recorded the header (its key made the
/// `mac`). `Err` says why that cannot be checked (no key, a bad key file).
pub fn recorded_by_user(header: &Header) -> Result<bool, String> {
    let path = UserKey::default_path().ok_or("there is no user data directory")?;
    match UserKey::load(&path) {
        Ok(Some(k)) => Ok(k.verify(header)),
        Ok(None) => Ok(false),
        Err(e) => Err(format!("the session key cannot be used: {e}")),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        let text = "[workflow]\nname = \"t\"\n[[agents]]\nid = \"a\"\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"a\"\n";
        let wf =
            crate::workflow::load::load_str(text, "t.toml", crate::workflow::load::Format::Toml)
                .expect("valid")
                .workflow;
        Header::new("s-1", &wf, text, "t.toml", 1, 2)
    }

    #[test]
    fn a_signed_header_verifies_and_any_change_breaks_it() {
        let key = UserKey::from_bytes([7; KEY_BYTES]);
        let mut h = header();
        assert!(!key.verify(&h), "unsigned");
        key.sign(&mut h);
        assert!(key.verify(&h));
        // Through the file format and back.
        let back: Header = serde_json::from_str(&serde_json::to_string(&h).unwrap()).unwrap();
        assert!(key.verify(&back));
        let mut changed = h.clone();
        changed.workflow.text.push_str("\n# id > FILE");
        assert!(!key.verify(&changed));
        assert!(
            !UserKey::from_bytes([8; KEY_BYTES]).verify(&h),
            "another user's key"
        );
        let mut garbage = h.clone();
        garbage.mac = Some("hmac-sha256:zz".into());
        assert!(!key.verify(&garbage));
    }

    #[test]
    fn the_key_file_is_created_owner_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agentctl").join(KEY_FILE);
        let k1 = UserKey::load_or_create(&path).unwrap();
        let k2 = UserKey::load_or_create(&path).unwrap();
        assert_eq!(k1.0, k2.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = UserKey::load(&path).err().expect("refused");
            assert!(e.to_string().contains("chmod 600"), "{e}");
        }
    }
}
