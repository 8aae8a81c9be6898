//! `--user` resolution against the image's `/etc/passwd` and `/etc/group`,
//! with the rules of docker (runc's libcontainer/user `GetExecUser`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil::read_file_in_root;

/// Largest passwd or group file we read (they are untrusted).
const MAX_DB_SIZE: u64 = 32 << 20;
const MAX_ID: i64 = i32::MAX as i64;

/// The ids the container's process runs with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Primary gid first, then the supplementary groups (docker's order);
    /// becomes `process.user.additionalGids`.
    pub additional_gids: Vec<u32>,
}

struct PasswdEntry {
    name: String,
    uid: i64,
    gid: i64,
}

struct GroupEntry {
    name: String,
    gid: i64,
    members: Vec<String>,
}

/// Resolves docker's `--user` (`""`, `name`, `uid`, `name:group`, `uid:gid`,
/// any mix) against the rootfs's `/etc/passwd` and `/etc/group`, which are
/// opened inside the rootfs (symlinks cannot lead out of it).
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<ResolvedUser> {
    resolve_user_with_groups(rootfs, user, &[])
}

/// [`resolve_user`] plus docker's `--group-add` (names or numeric gids),
/// appended after the user's own groups.
pub fn resolve_user_with_groups(
    rootfs: &Path,
    user: &str,
    group_add: &[String],
) -> Result<ResolvedUser> {
    let passwd = read_db(rootfs, "/etc/passwd")?;
    let group = read_db(rootfs, "/etc/group")?;
    let passwd = passwd.as_deref().map(parse_passwd);
    let groups = group.as_deref().map(parse_group);

    let mut parts = user.splitn(3, ':');
    let user_arg = parts.next().unwrap_or("");
    let group_arg = parts.next().unwrap_or("");
    let uid_num = parse_int(user_arg);
    let gid_num = parse_int(group_arg);

    let mut uid: i64 = 0;
    let mut gid: i64 = 0;
    let mut matched_name: Option<String> = None;

    let found = passwd.as_deref().unwrap_or(&[]).iter().find(|u| {
        if user_arg.is_empty() {
            u.uid == 0
        } else if let Some(n) = uid_num {
            u.uid == n
        } else {
            u.name == user_arg
        }
    });
    if let Some(u) = found {
        uid = u.uid;
        gid = u.gid;
        matched_name = Some(u.name.clone());
    } else if !user_arg.is_empty() {
        let Some(n) = uid_num else {
            return Err(Error::UserNotFound(user_arg.to_string()));
        };
        if !(0..=MAX_ID).contains(&n) {
            return Err(Error::IdRange);
        }
        uid = n;
    }

    let mut sgids: Vec<i64> = Vec::new();
    if !group_arg.is_empty() {
        let found = groups
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .find(|g| match gid_num {
                Some(n) => g.gid == n,
                None => g.name == group_arg,
            });
        match (found, gid_num) {
            (Some(g), _) => gid = g.gid,
            (None, Some(n)) => {
                if !(0..=MAX_ID).contains(&n) {
                    return Err(Error::IdRange);
                }
                gid = n;
            }
            (None, None) => return Err(Error::GroupNotFound(group_arg.to_string())),
        }
    } else if let Some(name) = &matched_name {
        // Supplementary groups only in the implicit form: every group that
        // lists the user, in file order.
        sgids = groups
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .filter(|g| g.members.iter().any(|m| m == name))
            .map(|g| g.gid)
            .collect();
    }

    let mut extra: Vec<i64> = Vec::new();
    for ag in group_add {
        let mut hit = false;
        for g in groups.as_deref().unwrap_or(&[]) {
            if g.name == *ag || parse_int(ag) == Some(g.gid) {
                hit = true;
                if !extra.contains(&g.gid) {
                    extra.push(g.gid);
                }
            }
        }
        if !hit {
            let Some(n) = parse_int(ag) else {
                return Err(Error::invalid(format!("Unable to find group {ag}")));
            };
            if !(0..=MAX_ID).contains(&n) {
                return Err(Error::IdRange);
            }
            if !extra.contains(&n) {
                extra.push(n);
            }
        }
    }

    let to_u32 = |v: i64| u32::try_from(v).map_err(|_| Error::IdRange);
    let mut additional_gids = vec![to_u32(gid)?];
    for g in sgids.into_iter().chain(extra) {
        additional_gids.push(to_u32(g)?);
    }
    Ok(ResolvedUser {
        uid: to_u32(uid)?,
        gid: to_u32(gid)?,
        additional_gids,
    })
}

fn read_db(rootfs: &Path, path: &str) -> Result<Option<String>> {
    let bytes = read_file_in_root(rootfs, path, MAX_DB_SIZE)
        .map_err(|e| Error::io(format!("{}{path}", rootfs.display()), e))?;
    Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// Go's `strconv.Atoi`: optional sign, decimal digits, no spaces.
fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// libcontainer's field parsing: an unparsable number counts as 0.
fn field_int(s: Option<&str>) -> i64 {
    s.and_then(parse_int).unwrap_or(0)
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut f = line.split(':');
            let name = f.next().unwrap_or("").to_string();
            let _password = f.next();
            let uid = field_int(f.next());
            let gid = field_int(f.next());
            PasswdEntry { name, uid, gid }
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut f = line.split(':');
            let name = f.next().unwrap_or("").to_string();
            let _password = f.next();
            let gid = field_int(f.next());
            let members = f
                .next()
                .unwrap_or("")
                .split(',')
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect();
            GroupEntry { name, gid, members }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// The busybox image's files (the sample's root gets
    /// [0,0,1,2,3,4,6,10,11,20,26,27]).
    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nbin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\nsync:x:4:100:sync:/bin:/bin/sync\nmail:x:8:8:mail:/var/spool/mail:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\noperator:x:37:37:Operator:/var:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n";
    const GROUP: &str = "root:x:0:root\nbin:x:1:root,bin,daemon\ndaemon:x:2:root,bin,daemon\nsys:x:3:root,bin,adm\nadm:x:4:root,adm,daemon\ntty:x:5:\ndisk:x:6:root,adm\nlp:x:7:lp\nmem:x:8:\nkmem:x:9:\nwheel:x:10:root\nfloppy:x:11:root\nmail:x:12:mail\ndialout:x:20:root\ntape:x:26:root\nvideo:x:27:root\nstaff:x:50:\nnogroup:x:65534:\n";

    fn rootfs(passwd: Option<&str>, group: Option<&str>) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("etc")).unwrap();
        if let Some(p) = passwd {
            fs::write(d.path().join("etc/passwd"), p).unwrap();
        }
        if let Some(g) = group {
            fs::write(d.path().join("etc/group"), g).unwrap();
        }
        d
    }

    fn ids(u: &ResolvedUser) -> (u32, u32, Vec<u32>) {
        (u.uid, u.gid, u.additional_gids.clone())
    }

    #[test]
    fn default_user_is_root_with_its_groups() {
        let r = rootfs(Some(PASSWD), Some(GROUP));
        let u = resolve_user(r.path(), "").unwrap();
        assert_eq!(
            ids(&u),
            (0, 0, vec![0, 0, 1, 2, 3, 4, 6, 10, 11, 20, 26, 27])
        );
        // "root" and "0" are the same user.
        assert_eq!(resolve_user(r.path(), "root").unwrap(), u);
        assert_eq!(resolve_user(r.path(), "0").unwrap(), u);
    }

    #[test]
    fn nobody() {
        let r = rootfs(Some(PASSWD), Some(GROUP));
        assert_eq!(
            ids(&resolve_user(r.path(), "nobody").unwrap()),
            (65534, 65534, vec![65534])
        );
    }

    #[test]
    fn unknown_name_is_dockers_error() {
        let r = rootfs(Some(PASSWD), Some(GROUP));
        let e = resolve_user(r.path(), "alice").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find user alice: no matching entries in passwd file"
        );
        // Same without any passwd file.
        let r = rootfs(None, None);
        let e = resolve_user(r.path(), "alice").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find user alice: no matching entries in passwd file"
        );
    }

    #[test]
    fn numeric_user_without_entry() {
        let r = rootfs(Some(PASSWD), Some(GROUP));
        assert_eq!(
            ids(&resolve_user(r.path(), "1234").unwrap()),
            (1234, 0, vec![0])
        );
        assert_eq!(
            ids(&resolve_user(r.path(), "1234:5678").unwrap()),
            (1234, 5678, vec![5678])
        );
        let r = rootfs(None, None);
        assert_eq!(ids(&resolve_user(r.path(), "").unwrap()), (0, 0, vec![0]));
        assert_eq!(
            ids(&resolve_user(r.path(), "7:8").unwrap()),
            (7, 8, vec![8])
        );
    }

    #[test]
    fn numeric_uid_with_entry_takes_its_gid() {
        let r = rootfs(Some(PASSWD), Some(GROUP));
        // sync: uid 4, gid 100, member of no group.
        assert_eq!(
            ids(&resolve_user(r.path(), "4").unwrap()),
            (4, 100, vec![100])
        );
        // daemon is listed in bin, daemon, adm.
        assert_eq!(
            ids(&resolve_user(r.path(), "daemon").unwrap()),
            (1, 1, vec![1, 1, 2, 4])
        );
    }

    #[test]
    fn explicit_group_drops_supplementary_groups() {
        let r = rootfs(Some(PASSWD), Some(GROUP));
        assert_eq!(
            ids(&resolve_user(r.path(), "root:staff").unwrap()),
            (0, 50, vec![50])
        );
        assert_eq!(
            ids(&resolve_user(r.path(), "nobody:0").unwrap()),
            (65534, 0, vec![0])
        );
        assert_eq!(
            ids(&resolve_user(r.path(), "0:999").unwrap()),
            (0, 999, vec![999])
        );
        let e = resolve_user(r.path(), "root:nosuchgroup").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find group nosuchgroup: no matching entries in group file"
        );
    }

    #[test]
    fn ranges() {
        let r = rootfs(Some(PASSWD), Some(GROUP));
        assert!(matches!(resolve_user(r.path(), "-1"), Err(Error::IdRange)));
        assert!(matches!(
            resolve_user(r.path(), "2147483648"),
            Err(Error::IdRange)
        ));
        assert!(matches!(
            resolve_user(r.path(), "0:-5"),
            Err(Error::IdRange)
        ));
        assert!(resolve_user(r.path(), "2147483647").is_ok());
        // Not a number and not a name.
        assert!(matches!(
            resolve_user(r.path(), "99999999999999999999999"),
            Err(Error::UserNotFound(_))
        ));
    }

    #[test]
    fn group_add() {
        let r = rootfs(Some(PASSWD), Some(GROUP));
        let u = resolve_user_with_groups(
            r.path(),
            "nobody",
            &["staff".into(), "4242".into(), "50".into()],
        )
        .unwrap();
        assert_eq!(ids(&u), (65534, 65534, vec![65534, 50, 4242]));
        let e = resolve_user_with_groups(r.path(), "nobody", &["nosuch".into()]).unwrap_err();
        assert_eq!(e.to_string(), "Unable to find group nosuch");
    }

    #[test]
    fn hostile_files() {
        // Garbage lines and bad numbers do not fail resolution (docker is lenient).
        let r = rootfs(
            Some("\n\n::::\nroot:x:abc:def\nbob:x:10:20::\n"),
            Some("bad\nwheel:x:10:bob,\n"),
        );
        assert_eq!(
            ids(&resolve_user(r.path(), "root").unwrap()),
            (0, 0, vec![0])
        );
        assert_eq!(
            ids(&resolve_user(r.path(), "bob").unwrap()),
            (10, 20, vec![20, 10])
        );
    }

    #[test]
    fn passwd_symlink_out_of_rootfs_is_not_followed() {
        let host = tempfile::tempdir().unwrap();
        fs::write(host.path().join("passwd"), "evil:x:4321:4321::/:/bin/sh\n").unwrap();
        let r = rootfs(None, Some(GROUP));
        std::os::unix::fs::symlink(host.path().join("passwd"), r.path().join("etc/passwd"))
            .unwrap();
        let e = resolve_user(r.path(), "evil").unwrap_err();
        assert!(matches!(e, Error::UserNotFound(_)), "{e}");
    }
}
