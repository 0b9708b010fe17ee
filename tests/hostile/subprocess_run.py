# expect: rejected | runs a shell command
import subprocess


def score(pod, nodes, cluster):
    subprocess.run(["sh", "-c", "cat /etc/passwd"])
    return [0.0, 0.0, 0.0]
