//! A line protocol on a TCP port (`TCP_PORT`): every line a client sends comes back prefixed
//! with the release and colour, on as many lines as the client sends (a persistent
//! connection), so tests can tell which release a connection landed on and when it closed.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::thread;

/// Binds now (an error is the caller's), then serves each connection on a thread of its own.
pub fn start(ip: IpAddr, port: u16, release: &str, color: &str) -> io::Result<()> {
    let listener = TcpListener::bind(SocketAddr::new(ip, port))?;
    let prefix = format!("{release} {color}");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let prefix = prefix.clone();
            thread::spawn(move || {
                let _ = serve(stream, &prefix);
            });
        }
    });
    Ok(())
}

fn serve(stream: TcpStream, prefix: &str) -> io::Result<()> {
    let mut out = stream.try_clone()?;
    for line in BufReader::new(stream).lines() {
        writeln!(out, "{prefix} {}", line?.trim())?;
    }
    Ok(())
}
