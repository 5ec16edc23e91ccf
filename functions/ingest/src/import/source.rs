//! Bridges an object streamed from the blob store (async) to the row reader
//! (a blocking `Read`), over bounded channels, so memory stays flat however
//! large the file is.

use std::io::{self, Read};

use bytes::{Buf, Bytes};
use futures::StreamExt;
use strata_domain::ports::blob::ByteStream;
use strata_rows::{ReadError, Row, RowError};
use tokio::sync::mpsc;

/// What the reading thread reports, in order: a header, items, an end.
#[derive(Debug)]
pub enum Event {
    Header(Vec<String>),
    Item(Result<Row, RowError>),
    /// The whole input was read.
    End {
        blank_lines: u64,
    },
    /// Reading stopped: the input cannot be opened, or a stream broke.
    Failed(String),
}

const CHUNKS_IN_FLIGHT: usize = 4;
const ROWS_IN_FLIGHT: usize = 1024;

pub fn read_rows(body: ByteStream, options: strata_rows::ReadOptions) -> mpsc::Receiver<Event> {
    let (bytes_tx, bytes_rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::spawn(pump(body, bytes_tx));
    let (tx, rx) = mpsc::channel(ROWS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let reader = ChannelReader {
            rx: bytes_rx,
            current: Bytes::new(),
        };
        let mut rows = match strata_rows::open(reader, &options) {
            Ok(rows) => rows,
            Err(error) => {
                let _ = tx.blocking_send(Event::Failed(error.to_string()));
                return;
            }
        };
        if tx
            .blocking_send(Event::Header(rows.header().to_vec()))
            .is_err()
        {
            return; // the importer stopped listening (a pause): nothing more to do
        }
        for item in rows.by_ref() {
            let event = match item {
                Ok(row) => Event::Item(Ok(row)),
                Err(ReadError::Row(error)) => Event::Item(Err(error)),
                Err(ReadError::Io(error)) => {
                    let _ = tx.blocking_send(Event::Failed(error.to_string()));
                    return;
                }
            };
            if tx.blocking_send(event).is_err() {
                return;
            }
        }
        let _ = tx.blocking_send(Event::End {
            blank_lines: rows.blank_lines(),
        });
    });
    rx
}

async fn pump(mut body: ByteStream, tx: mpsc::Sender<io::Result<Bytes>>) {
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| io::Error::other(e.to_string()));
        let failed = chunk.is_err();
        if tx.send(chunk).await.is_err() || failed {
            return;
        }
    }
}

struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(error)) => return Err(error),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}
