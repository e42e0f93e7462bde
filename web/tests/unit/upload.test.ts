import { describe, expect, it } from "vitest";
import { releaseFiles } from "../../src/lib/upload";

describe("a release's file list", () => {
  it("lists paths with sizes, sorted", () => {
    const files = releaseFiles([
      { path: "S02/IM1.dcm", file: new Blob([new Uint8Array(3)]) },
      { path: "S01/IM1.dcm", file: new Blob([new Uint8Array(5)]) },
    ]);
    expect(files).toEqual([
      { path: "S01/IM1.dcm", size: 5 },
      { path: "S02/IM1.dcm", size: 3 },
    ]);
  });

  it("refuses two files with one path, naming it", () => {
    expect(() =>
      releaseFiles([
        { path: "IM1.dcm", file: new Blob([]) },
        { path: "IM1.dcm", file: new Blob([new Uint8Array(1)]) },
      ]),
    ).toThrow("Two files are named IM1.dcm");
  });
});
