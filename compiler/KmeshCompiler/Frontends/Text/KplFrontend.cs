using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Text;

/// <summary>The textual IR language (.kpl) → IR. The syntax is in grammar/README.md.</summary>
public static class KplFrontend
{
    /// <summary>Reads a world file. Policy-test statements (world, expect) are errors here: a test
    /// file is run by <c>kmeshc test</c>, not loaded as a world.</summary>
    public static World Read(SourceText source, DiagnosticBag bag)
    {
        var doc = ReadDocument(source, bag);
        foreach (var r in doc.WorldRefs) bag.Add(Codes.KplTestStatementInWorld, r.Location, "world");
        foreach (var e in doc.Expectations) bag.Add(Codes.KplTestStatementInWorld, e.Location, "expect");
        return doc.World;
    }

    /// <summary>Reads any .kpl file, test files included, keeping comments for the formatter.</summary>
    public static KplDocument ReadDocument(SourceText source, DiagnosticBag bag) =>
        InBatchGc(source.Bytes.Length, () => KplSyntax.Read(source, bag));

    /// <summary>Parses text held in memory (tests, tools).</summary>
    public static KplDocument Parse(string text, string file, DiagnosticBag bag) =>
        InBatchGc(text.Length, () => KplSyntax.Read(text, file, bag));

    /// <summary>Reading a large file allocates a parse tree that lives until binding ends; background
    /// (concurrent) collections only add CPU work then, so they are paused while such a file is read.</summary>
    private static T InBatchGc<T>(long size, Func<T> read)
    {
        if (size < 4 << 20) return read();
        var old = System.Runtime.GCSettings.LatencyMode;
        System.Runtime.GCSettings.LatencyMode = System.Runtime.GCLatencyMode.Batch;
        try
        {
            return read();
        }
        finally
        {
            System.Runtime.GCSettings.LatencyMode = old;
        }
    }
}
