# expect: rejected | opens a network connection
import socket


def score(pod, nodes, cluster):
    socket.create_connection(("1.1.1.1", 80)).sendall(b"GET / HTTP/1.0\r\n\r\n")
    return [0.0, 0.0, 0.0]
