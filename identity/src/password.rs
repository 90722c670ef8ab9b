//! Password hashing with argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane), always in a
//! blocking task so that a burst of sign-ins cannot stall the async workers, and bounded:
//! at most [`Gate`]'s number of hashes run at once (each holds 19 MiB), a short queue
//! waits, and anything beyond is [`crate::Error::Busy`] at once. A flood of sign-ins
//! therefore costs a fixed amount of memory and leaves the other requests alone.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, OnceLock};
use tokio::sync::Semaphore;

/// The bound on password hashing: `running` at once, `waiting` more in a queue.
pub struct Gate {
    permits: Semaphore,
    /// Checks running or waiting now.
    admitted: AtomicUsize,
    limit: usize,
    /// Checks refused as [`crate::Error::Busy`] since start.
    refused: AtomicUsize,
}

impl Gate {
    fn new(running: usize, waiting: usize) -> Self {
        let running = running.max(1);
        Self {
            permits: Semaphore::new(running),
            admitted: AtomicUsize::new(0),
            limit: running + waiting,
            refused: AtomicUsize::new(0),
        }
    }

    /// `running` at once and a queue of seven times as many: a waiting check waits for at
    /// most seven hashes per permit (a few hundred milliseconds), and memory stays at
    /// `running` hashes whatever arrives.
    fn sized(running: usize) -> Self {
        Self::new(running, running.max(1) * 7)
    }

    /// A place in the gate (running or queued), or [`crate::Error::Busy`] at once when the
    /// queue is full. Take it before any other work for a password check, so that a
    /// refused request costs nothing more.
    pub fn admit(&self) -> crate::Result<Ticket<'_>> {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.limit {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(crate::Error::Busy);
        }
        Ok(Ticket { gate: self })
    }

    /// Password checks running or waiting now (the hash queue).
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Relaxed)
    }

    /// Password checks refused as busy since start.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }
}

/// A place in the [`Gate`]; given back when the check ends or its request is dropped.
pub struct Ticket<'a> {
    gate: &'a Gate,
}

impl Ticket<'_> {
    /// Runs `work` on a blocking thread once one of the gate's permits is free.
    async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> crate::Result<T> {
        let _permit = self
            .gate
            .permits
            .acquire()
            .await
            .map_err(|e| anyhow::anyhow!("password gate closed: {e}"))?;
        Ok(tokio::task::spawn_blocking(work)
            .await
            .map_err(anyhow::Error::from)?)
    }

    /// Checks `password` against `stored`, or against a dummy hash when there is no user.
    /// `true` only for a real hash that matches.
    pub async fn verify(self, password: String, stored: Option<String>) -> crate::Result<bool> {
        self.run(move || {
            let real = stored.is_some();
            let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
            let ok = PasswordHash::new(&phc)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false);
            real && ok
        })
        .await
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.gate.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

static GATE: OnceLock<Gate> = OnceLock::new();

/// Sets how many password hashes run at once (`IDP_PASSWORD_CHECKS`); the first call wins,
/// and without one it is twice the number of cores.
pub fn configure(running: usize) {
    let _ = GATE.set(Gate::sized(running));
    return_large_allocations();
}

/// Makes glibc give every allocation of 1 MiB or more back to the system when it is freed.
/// By default glibc raises that threshold after the first such free, and from then on each
/// thread's arena keeps the 19 MiB of the last hash it ran: a flood that passed through
/// many threads left hundreds of MB resident (measured: 615 MB peak for 400 requests with
/// four hashes at a time; with this, the peak is the hashes actually running).
fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tunables; it is called before hashing starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// The process's password gate.
pub fn gate() -> &'static Gate {
    GATE.get_or_init(|| {
        Gate::sized(2 * std::thread::available_parallelism().map_or(2, |n| n.get()))
    })
}

/// Verified when the user does not exist, so that an unknown username costs as much time
/// as a wrong password and timing tells nothing.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("not a real password").expect("hashing a constant"));

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("argon2 hash: {e}"))
}

/// Hashes a new password into an argon2id PHC string.
pub async fn hash(password: String) -> crate::Result<String> {
    Ok(gate()
        .admit()?
        .run(move || hash_blocking(&password))
        .await??)
}

/// Checks `password` against `stored` (see [`Ticket::verify`]); [`crate::Error::Busy`]
/// when the gate is full.
pub async fn verify(password: String, stored: Option<String>) -> crate::Result<bool> {
    gate().admit()?.verify(password, stored).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let stored = hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            verify("correct horse".into(), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("wrong horse".into(), Some(stored)).await.unwrap());
    }

    #[tokio::test]
    async fn no_user_never_verifies_even_with_the_dummy_password() {
        assert!(!verify("not a real password".into(), None).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_gate_refuses_at_once_and_admits_again_when_checks_end() {
        let gate = std::sync::Arc::new(Gate::new(1, 1));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = std::sync::Arc::new(std::sync::Mutex::new(wait));
        // One running and one waiting fill a gate of one.
        let mut held = Vec::new();
        for _ in 0..2 {
            let gate = gate.clone();
            let wait = wait.clone();
            held.push(tokio::spawn(async move {
                let ticket = gate.admit()?;
                ticket.run(move || wait.lock().unwrap().recv().ok()).await
            }));
        }
        while gate.admitted.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(gate.admit(), Err(crate::Error::Busy)));
        assert_eq!(gate.refused(), 1);
        release.send(()).unwrap();
        release.send(()).unwrap();
        for task in held {
            assert!(task.await.unwrap().is_ok());
        }
        assert!(
            gate.admit().unwrap().run(|| ()).await.is_ok(),
            "admitted again"
        );
    }
}
