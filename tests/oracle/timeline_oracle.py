"""Step stats for tests/e2e/test_run_metadata.py's timeline test and (run as a script) TensorFlow
2.21's Chrome traces of them (tensorflow.python.client.timeline), written as JSON:

    /tmp/tfenv/bin/python tests/oracle/timeline_oracle.py > tests/e2e/timeline_tf_values.json

and the global steps at which tf.train.ProfilerHook(save_steps=2) writes its timelines in five
monitored training steps. The steps cover two devices, ops that overlap (two lanes), an op with
two outputs and an input naming its second, a transfer (a/_Send, a/_Recv), a Const without inputs
and a label TF cannot parse.
"""

import json

CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"
CPU1 = "/job:localhost/replica:0/task:0/device:CPU:1"

# device -> [(name, label after "name = ", start micros, duration micros, outputs)]
STEPS = {
    CPU0: [
        ("x", "Const()", 1000, 2, 1),
        ("split", "Split(x)", 1003, 5, 2),
        ("a", "Square(split:1)", 1004, 10, 1),
        ("b", "Exp(split)", 1009, 3, 1),
        ("a/_Send", "send()", 1015, 1, 0),
        ("odd", "no parenthesis", 1020, 1, 0),
    ],
    CPU1: [
        ("a/_Recv", "recv()", 1016, 2, 1),
        ("c", "AddV2(a, b)", 1019, 4, 1),
    ],
}


def tf_traces() -> dict:
    from tensorflow.core.framework import step_stats_pb2
    from tensorflow.python.client import timeline

    stats = step_stats_pb2.StepStats()
    for device, nodes in STEPS.items():
        dev = stats.dev_stats.add(device=device)
        for name, label, start, duration, outputs in nodes:
            node = dev.node_stats.add(
                node_name=name,
                timeline_label=f"{name} = {label}",
                all_start_micros=start,
                op_end_rel_micros=duration,
                all_end_rel_micros=duration,
            )
            for slot in range(outputs):
                node.output.add(slot=slot)
    return {
        str(dataflow): json.loads(
            timeline.Timeline(stats).generate_chrome_trace_format(show_dataflow=dataflow)
        )
        for dataflow in (True, False)
    }


def tf_profiler_hook_steps() -> list:
    import tempfile

    import tensorflow.compat.v1 as t

    t.disable_v2_behavior()
    with tempfile.TemporaryDirectory() as directory:
        return profiler_hook_steps(t, directory)


def profiler_hook_steps(t, output_dir: str, steps: int = 5, save_steps: int = 2) -> list:
    """The global steps whose timeline files ``tf.train.ProfilerHook(save_steps)`` writes in a
    monitored training of ``steps`` steps (``t``: TF's compat.v1 or tgc)."""
    import os

    t.reset_default_graph()
    step = t.train.get_or_create_global_step()
    w = t.Variable(1.0, name="w")
    train = t.train.GradientDescentOptimizer(0.1).minimize(w * w, global_step=step)
    hook = t.train.ProfilerHook(save_steps=save_steps, output_dir=output_dir)
    with t.train.MonitoredTrainingSession(hooks=[hook], save_summaries_steps=None) as sess:
        for _ in range(steps):
            sess.run(train)
    names = [n for n in os.listdir(output_dir) if n.startswith("timeline-")]
    return sorted(int(n[len("timeline-") : -len(".json")]) for n in names)


if __name__ == "__main__":
    print(
        json.dumps(
            {
                "tensorflow": "2.21.0",
                "traces": tf_traces(),
                "profiler_hook_steps": tf_profiler_hook_steps(),
            },
            indent=1,
        )
    )
