//! Content files: the bytes of each object, one immutable file per version.
//!
//! A body is written to `staging/`, synced, and only then renamed into
//! `objects/` under a fresh unique name; the catalog is pointed at it after
//! that. A crash therefore leaves at worst a stray file, which the next open
//! removes, and never a catalog entry pointing at half an object.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use strata_domain::ports::{BlobError, ByteStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::error::EmbeddedError;

/// Read size when streaming an object out; large enough to keep syscalls
/// few, small enough that many concurrent reads stay cheap.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// A body written to a content file.
pub struct Written {
    pub file: String,
    pub size: u64,
    pub etag: String,
}

#[derive(Clone)]
pub struct Content {
    objects: PathBuf,
    staging: PathBuf,
}

impl Content {
    /// Prepares the directories and empties `staging/`: whatever is there was
    /// being written when a previous process stopped.
    pub fn open(dir: &Path) -> Result<Self, EmbeddedError> {
        let content = Content {
            objects: dir.join("objects"),
            staging: dir.join("staging"),
        };
        for dir in [&content.objects, &content.staging] {
            std::fs::create_dir_all(dir).map_err(|error| EmbeddedError::io(dir, error))?;
        }
        for stale in list_dir(&content.staging)? {
            remove_leftover(&content.staging.join(stale));
        }
        Ok(content)
    }

    /// Removes content files no object points at: those written or replaced
    /// just before a crash, between the file and the catalog commit.
    pub fn sweep(&self, referenced: &HashSet<String>) -> Result<(), EmbeddedError> {
        for name in list_dir(&self.objects)? {
            if !referenced.contains(&name) {
                remove_leftover(&self.objects.join(name));
            }
        }
        Ok(())
    }

    /// Streams a body into a new content file, hashing it on the way.
    pub async fn write(&self, mut body: ByteStream) -> Result<Written, BlobError> {
        let file = Uuid::now_v7().to_string();
        let mut staged = Staged {
            path: self.staging.join(format!("{file}.part")),
            abandoned: true,
        };
        let mut out = tokio::fs::File::create(&staged.path)
            .await
            .map_err(failure("creating", &staged.path))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = body.try_next().await? {
            out.write_all(&chunk)
                .await
                .map_err(failure("writing", &staged.path))?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
        }
        out.sync_all()
            .await
            .map_err(failure("syncing", &staged.path))?;
        drop(out);
        let committed = self.objects.join(&file);
        tokio::fs::rename(&staged.path, &committed)
            .await
            .map_err(failure("moving", &committed))?;
        staged.abandoned = false;
        // The rename must be durable before the catalog points at the file.
        sync_dir(&self.objects).await?;
        Ok(Written {
            file,
            size,
            etag: format!("\"{}\"", hex::encode(hasher.finalize())),
        })
    }

    /// Opens a content file for reading; `None` if it is gone (replaced
    /// since its catalog entry was read).
    pub async fn open_file(&self, file: &str) -> Result<Option<tokio::fs::File>, BlobError> {
        let path = self.path(file)?;
        match tokio::fs::File::open(&path).await {
            Ok(opened) => Ok(Some(opened)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(failure("opening", &path)(error)),
        }
    }

    /// Gives an existing content file a second name, for a copy: files are
    /// never modified, so two objects can share the bytes. `None` if the
    /// file is gone.
    pub async fn link(&self, file: &str) -> Result<Option<String>, BlobError> {
        let source = self.path(file)?;
        let linked = Uuid::now_v7().to_string();
        let target = self.objects.join(&linked);
        match tokio::fs::hard_link(&source, &target).await {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(failure("linking", &target)(error)),
        }
        sync_dir(&self.objects).await?;
        Ok(Some(linked))
    }

    /// Removes a content file no object points at any more. A failure only
    /// leaks the file until the next open sweeps it, so it is logged, not
    /// returned.
    pub async fn remove(&self, file: &str) {
        let Ok(path) = self.path(file) else {
            return;
        };
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "could not remove a replaced content file");
            }
        }
    }

    /// Only names this module made are accepted, so a damaged catalog entry
    /// cannot point outside `objects/`.
    fn path(&self, file: &str) -> Result<PathBuf, BlobError> {
        Uuid::try_parse(file)
            .map(|_| self.objects.join(file))
            .map_err(|_| {
                BlobError::Unavailable(format!("corrupt object metadata: content file `{file}`"))
            })
    }
}

/// Streams an open content file in chunks.
pub fn stream(file: tokio::fs::File) -> ByteStream {
    Box::pin(futures::stream::try_unfold(file, |mut file| async move {
        let mut chunk = BytesMut::with_capacity(READ_CHUNK_BYTES);
        let read = file
            .read_buf(&mut chunk)
            .await
            .map_err(|error| BlobError::Unavailable(format!("reading object content: {error}")))?;
        Ok((read > 0).then(|| (chunk.freeze(), file)))
    }))
}

/// A staged file, removed if the write fails or its future is dropped midway.
struct Staged {
    path: PathBuf,
    abandoned: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.abandoned {
            remove_leftover(&self.path);
        }
    }
}

fn remove_leftover(path: &Path) {
    if let Err(error) = std::fs::remove_file(path)
        && error.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), %error, "could not remove a leftover content file");
    }
}

fn list_dir(dir: &Path) -> Result<Vec<String>, EmbeddedError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|error| EmbeddedError::io(dir, error))? {
        let entry = entry.map_err(|error| EmbeddedError::io(dir, error))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    Ok(names)
}

fn failure(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BlobError {
    let path = path.to_owned();
    move |error| BlobError::Unavailable(format!("{action} {}: {error}", path.display()))
}

#[cfg(unix)]
async fn sync_dir(dir: &Path) -> Result<(), BlobError> {
    let opened = tokio::fs::File::open(dir)
        .await
        .map_err(failure("opening", dir))?;
    opened.sync_all().await.map_err(failure("syncing", dir))
}

/// Elsewhere a directory cannot be opened to sync it; renames are left to
/// the file system's own ordering.
#[cfg(not(unix))]
async fn sync_dir(_dir: &Path) -> Result<(), BlobError> {
    Ok(())
}
