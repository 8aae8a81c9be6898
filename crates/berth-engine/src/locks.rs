//! The engine's std locks, taken whether or not a holder panicked. A panic
//! in one request poisons the lock it held; failing every later request on
//! the same container (or the whole name table) would turn one bug into a
//! dead daemon, so callers go on with the data as it was left.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub(crate) trait IgnorePoison {
    type Target: ?Sized;
    fn locked(&self) -> MutexGuard<'_, Self::Target>;
}

impl<T: ?Sized> IgnorePoison for Mutex<T> {
    type Target = T;
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) trait IgnorePoisonRw {
    type Target: ?Sized;
    fn read_locked(&self) -> RwLockReadGuard<'_, Self::Target>;
    fn write_locked(&self) -> RwLockWriteGuard<'_, Self::Target>;
}

impl<T: ?Sized> IgnorePoisonRw for RwLock<T> {
    type Target = T;
    fn read_locked(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write_locked(&self) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_panicked_holder_leaves_the_data_usable() {
        let m = Arc::new(Mutex::new(1));
        let rw = Arc::new(RwLock::new(1));
        let (m2, rw2) = (m.clone(), rw.clone());
        let _ = std::thread::spawn(move || {
            let _g = m2.lock();
            let _w = rw2.write();
            panic!("poison both");
        })
        .join();
        assert!(m.is_poisoned() && rw.is_poisoned());
        *m.locked() += 1;
        *rw.write_locked() += 1;
        assert_eq!((*m.locked(), *rw.read_locked()), (2, 2));
    }
}
