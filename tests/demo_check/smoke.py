import asyncio, random
from datetime import datetime, UTC
from langgraph.checkpoint.memory import InMemorySaver
from console.demo import graphs as g
from console.demo.data import INPUTS

async def main():
    saver = InMemorySaver()
    now = datetime.now(UTC)
    for name in g.DEMO_GRAPHS:
        graph = getattr(g, name).copy(update={"checkpointer": saver})
        print(name, graph.interrupt_before_nodes, graph.interrupt_after_nodes, graph.checkpointer is saver)
        cfg = g.demo_config(name, f"{name}-1")
        inp = INPUTS[name](random.Random(1), now, 0)
        await graph.ainvoke(inp, cfg)
        st = await graph.aget_state(cfg)
        print("  next", st.next, "interrupts", [(i.id[:8], str(i.value)[:80], i.response_schema is not None) for i in st.interrupts])
        info = g.DEMO_INFO[name]
        before = len(st.values.get(info.effect, []))
        ans = g.demo_answer(name, st.interrupts)
        await graph.ainvoke(ans, cfg)
        st2 = await graph.aget_state(cfg)
        print("  after resume next", st2.next, "effect", before, "->", len(st2.values.get(info.effect, [])), st2.values.get("status"))

asyncio.run(main())
