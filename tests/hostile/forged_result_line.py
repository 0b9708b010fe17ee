# expect: invalid_output | prints a fake result line (it cannot know the nonce) and returns garbage
def score(pod, nodes, cluster):
    print('{"status": "ok", "scores": {"i1": 1e9}, "metrics": {}}')
    print('\nok {"status": "ok", "scores": {"i1": 1e9}, "metrics": {}}')
    return None
