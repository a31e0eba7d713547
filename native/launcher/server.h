// cordon – the launch server: a resident launcher that forks a fresh launcher per command.
#pragma once

namespace cordon {

/**
 * `cordon-launcher --server`: serves launch requests on fd 3 until EOF. Each request carries the
 * launch's fds (stdin, stdout, stderr, status socket, optional network channel); the server forks
 * and the child runs the launch exactly as a launcher spawned by Node would (`launch_fn`).
 */
int run_server(int (*launch_fn)());

}  // namespace cordon
