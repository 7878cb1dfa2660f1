//! The Rust std server of runw's network tests: a blocking accept loop on
//! the listener runw preopened, the preview1 way (TcpListener::from_raw_fd
//! with the first descriptor named in RUNW_LISTEN_FDS). runw hands
//! listeners over NONBLOCK, as Go and mio want them, so a plain std loop
//! first makes its listener blocking again.
//!
//!   GET  /path  "hello from rust /path\n"
//!   POST /echo  the request body (Content-Length)
//!
//! One request a connection (Connection: close), one connection at a time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::wasi::io::FromRawFd;

fn main() {
    let fds = std::env::var("RUNW_LISTEN_FDS").expect("RUNW_LISTEN_FDS is not set");
    let fd: i32 = fds.split(',').next().unwrap().parse().expect("RUNW_LISTEN_FDS");
    let listener = unsafe { TcpListener::from_raw_fd(fd) };
    listener.set_nonblocking(false).expect("set_nonblocking(false)");
    println!("rust: serving on fd {}", fd);
    for conn in listener.incoming() {
        match conn {
            Ok(conn) => {
                if let Err(e) = serve(conn) {
                    eprintln!("rust: connection: {}", e);
                }
            }
            Err(e) => eprintln!("rust: accept: {}", e),
        }
    }
}

fn serve(mut conn: TcpStream) -> std::io::Result<()> {
    let (method, path, body) = {
        let mut r = BufReader::new(&conn);
        let mut line = String::new();
        r.read_line(&mut line)?;
        let mut words = line.split_whitespace();
        let method = words.next().unwrap_or("").to_string();
        let path = words.next().unwrap_or("").to_string();
        let mut length = 0;
        loop {
            line.clear();
            if r.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        r.read_exact(&mut body)?;
        (method, path, body)
    };
    let reply = if method == "POST" && path == "/echo" {
        body
    } else {
        format!("hello from rust {}\n", path).into_bytes()
    };
    write!(conn, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", reply.len())?;
    conn.write_all(&reply)?;
    conn.flush()
}
