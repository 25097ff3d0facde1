//! Servers the tests start: actix-web on a listener already bound to a loopback address, with
//! one worker, no signal handlers and a one-second shutdown, spawned on the current actix
//! system.

/// Serves the app `$factory` builds on `$listener` (a bound `std::net::TcpListener`) and
/// returns the server's handle (`.stop(false).await` ends it).
macro_rules! spawn_actix {
    ($listener:expr, $factory:expr) => {{
        let server = actix_web::HttpServer::new($factory)
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .listen($listener)
            .expect("actix listens")
            .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        handle
    }};
}

pub(crate) use spawn_actix;
