// The grammar over every real example, against the snapshots in test/snap/ (see snap.mjs).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { examples, run, snapshots } from "./snap.mjs";

describe("snapshots of examples/*.journey", () => {
  test("every example has a snapshot, and every snapshot an example", () => {
    const ex = examples();
    assert.ok(ex.length > 0, "no examples found");
    const snaps = snapshots();
    assert.deepEqual(
      snaps.filter((s) => !ex.includes(s)),
      [],
      "stale snapshots in test/snap/: run `npm run snap:update`",
    );
    assert.deepEqual(
      ex.filter((e) => !snaps.includes(e)),
      [],
      "examples without a snapshot: run `npm run snap:update` and review test/snap/",
    );
  });

  for (const name of examples()) {
    test(name, () => {
      const r = run({ names: [name] });
      assert.ok(r.ok, r.output);
    });
  }
});
