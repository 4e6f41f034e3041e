using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Tests.Xds;

/// <summary>The direct binary decoder against the generated Google.Protobuf parsers: the same world
/// and the same diagnostics (the wording of a parse error aside) on every input.</summary>
public class DecoderParityTests
{
    private static void AssertSame(byte[] bytes, string what)
    {
        var src = new SourceText("p.pb", bytes);
        var db = new DiagnosticBag();
        var rb = new DiagnosticBag();
        var direct = XdsFrontend.Read(src, db, referenceDecoder: false);
        var reference = XdsFrontend.Read(src, rb, referenceDecoder: true);
        static string Show(Diagnostic d) => $"{d.Code} {d.Severity} {d.Location} " + (d.Code is "KM5002" or "KM5006" ? "" : d.Message);
        var a = rb.Sorted().Select(Show).ToList();
        var b = db.Sorted().Select(Show).ToList();
        Assert.True(IrEquality.Equal(reference, direct), $"{what}: {IrEquality.FirstDifference(reference, direct)}\nreference: {string.Join("\n  ", rb.Items)}\ndirect:    {string.Join("\n  ", db.Items)}");
        Assert.True(a.SequenceEqual(b), $"{what}:\nreference: {string.Join("\n  ", a)}\ndirect:    {string.Join("\n  ", b)}");
    }

    [Fact]
    public void Fixtures_decode_alike()
    {
        foreach (var f in Directory.GetFiles(Fixtures.Dir, "*.pb.hex"))
            AssertSame(Fixtures.Bytes(Path.GetFileName(f)), f);
    }

    [Fact]
    public void Generated_worlds_decode_alike()
    {
        for (int seed = 0; seed < 30; seed++)
            AssertSame(SnapshotWriter.Write(Support.WorldGen.World(new Random(seed)), SnapshotFormat.Binary), $"seed {seed}");
        AssertSame(SnapshotWriter.Write(XdsWorlds.Rich(), SnapshotFormat.Binary), "rich");
    }

    [Fact]
    public void Mutated_snapshots_decode_alike()
    {
        var rng = new Random(2024);
        var inputs = new[] { SnapshotWriter.Write(XdsWorlds.Rich(), SnapshotFormat.Binary), Fixtures.Bytes("corners.pb.hex"), Fixtures.Bytes("state-of-the-world.pb.hex") };
        for (int i = 0; i < 4000; i++)
        {
            var b = (byte[])inputs[i % inputs.Length].Clone();
            for (int k = rng.Next(1, 4); k > 0; k--)
            {
                int at = rng.Next(b.Length);
                b[at] = rng.Next(3) switch { 0 => (byte)rng.Next(256), 1 => (byte)(b[at] ^ (1 << rng.Next(8))), _ => (byte)(b[at] + rng.Next(-2, 3)) };
            }
            AssertSame(b, $"mutation {i}");
        }
    }
}
