//! The key that names Swarm secrets and configs. Swarm objects are immutable, so docker flow
//! names each after its content; a plain hash of the content in a name anyone can list (or that a
//! CI log shows) would let a short password be guessed offline. The name carries a hash keyed
//! with 32 random bytes kept here, in Consul, which only docker flow's users read.

use super::client::Consul;
use super::error::RegistryError;
use super::kv::{op, TxnOutcome};
use super::state::ROOT;

const LEN: usize = 32;

fn key_path() -> String {
    format!("{ROOT}/.swarm/object-key")
}

impl Consul {
    /// The key, created on first use (check-and-set: two first runs agree on one).
    pub async fn object_key(&self) -> Result<Vec<u8>, RegistryError> {
        let key = key_path();
        for _ in 0..3 {
            if let (Some(entry), _) = self.kv_get(&key, None).await? {
                return match entry.value {
                    Some(v) if v.len() == LEN => Ok(v),
                    other => Err(RegistryError::InvalidValue {
                        address: self.address().to_string(),
                        key: key.clone(),
                        // Never shown: it is key material.
                        value: format!("{} bytes", other.map_or(0, |v| v.len())),
                        expected: format!("the {LEN} random bytes docker flow writes"),
                        fix: "consul kv delete KEY; the next deploy makes a new one (and new names for the secrets and configs it creates)".replace("KEY", &key),
                    }),
                };
            }
            let fresh = random_bytes()?;
            match self
                .txn(
                    vec![op::cas(&key, &fresh, 0)],
                    "creating the Swarm object key",
                )
                .await?
            {
                TxnOutcome::Committed(_) => return Ok(fresh),
                // Another run created it first: read theirs.
                TxnOutcome::RolledBack(_) => continue,
            }
        }
        Err(RegistryError::Config {
            reason: format!(
                "{key} was created and removed again three times while this command read it"
            ),
        })
    }
}

fn random_bytes() -> Result<Vec<u8>, RegistryError> {
    use std::io::Read;
    let mut buf = vec![0u8; LEN];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| RegistryError::Config {
            reason: format!("cannot read /dev/urandom for the Swarm object key: {e}"),
        })?;
    Ok(buf)
}
