using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Xds;

/// <summary><c>kmeshc snapshot</c> through the real CLI (in process).</summary>
public sealed class SnapshotCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kmesh-xds-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Put(string name, byte[] bytes)
    {
        string p = Path.Combine(_dir, name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    [Theory]
    [InlineData("binary", "out.pb")]
    [InlineData("json", "out.json")]
    public void Snapshot_of_a_snapshot_is_the_same_world_and_the_same_bytes(string format, string outName)
    {
        var world = XdsWorlds.Rich();
        var fmt = format == "json" ? SnapshotFormat.Json : SnapshotFormat.Binary;
        string input = Put("in." + (format == "json" ? "json" : "pb"), SnapshotWriter.Write(world, fmt));
        string output = Path.Combine(_dir, outName);
        var r = CliRunner.Run("snapshot", input, "-o", output, "--format", format);
        Assert.True(r.Exit == 0, r.Err);
        Assert.Equal(File.ReadAllBytes(input), File.ReadAllBytes(output));
        Assert.Contains("3 workloads, 2 services, 3 policies", r.Err);
        var back = RoundTripTests.Read(File.ReadAllBytes(output), output, out _);
        Assert.True(IrEquality.Equal(world, back), IrEquality.FirstDifference(world, back));
    }

    [Fact]
    public void Binary_is_the_default_and_json_converts()
    {
        string json = Put("in.json", SnapshotWriter.Write(XdsWorlds.Rich(), SnapshotFormat.Json));
        string output = Path.Combine(_dir, "out.snapshot");
        Assert.Equal(0, CliRunner.Run("snapshot", json, "-o", output).Exit);
        Assert.Equal(SnapshotWriter.Write(XdsWorlds.Rich(), SnapshotFormat.Binary), File.ReadAllBytes(output));
    }

    [Fact]
    public void Several_snapshots_merge_and_a_directory_is_read_recursively()
    {
        var rich = XdsWorlds.Rich();
        var a = rich with { Policies = [] };
        var b = World.Empty with { Policies = rich.Policies };
        Put("a.pb", SnapshotWriter.Write(a, SnapshotFormat.Binary));
        Directory.CreateDirectory(Path.Combine(_dir, "sub"));
        Put("sub/b.json", SnapshotWriter.Write(b, SnapshotFormat.Json));
        // Outside the input directory: an output there would be read as an input (docs/files.md).
        string output = _dir + ".merged.pb";
        try
        {
            var r = CliRunner.Run("snapshot", _dir, "-o", output);
            Assert.True(r.Exit == 0, r.Err);
            Assert.Equal(SnapshotWriter.Write(rich, SnapshotFormat.Binary), File.ReadAllBytes(output));
        }
        finally { File.Delete(output); }
    }

    [Fact]
    public void Input_errors_exit_1_and_write_nothing()
    {
        var good = SnapshotWriter.Write(XdsWorlds.Rich(), SnapshotFormat.Binary);
        string bad = Put("bad.pb", good[..(good.Length - 3)]);
        string output = Path.Combine(_dir, "out.pb");
        File.WriteAllText(output, "previous");
        var r = CliRunner.Run("snapshot", bad, "-o", output);
        Assert.Equal(1, r.Exit);
        Assert.Contains("error KM5001", r.Err);
        Assert.Contains("bad.pb[response 2 at byte", r.Err);
        Assert.Equal("previous", File.ReadAllText(output));
        Assert.Empty(Directory.GetFiles(_dir, ".*.tmp"));
    }

    [Fact]
    public void Usage_errors_exit_2()
    {
        string input = Put("in.pb", SnapshotWriter.Write(XdsWorlds.Rich(), SnapshotFormat.Binary));
        Assert.Equal(2, CliRunner.Run("snapshot", input).Exit);
        Assert.Equal(2, CliRunner.Run("snapshot", input, "-o", Path.Combine(_dir, "x"), "--format", "yaml").Exit);
        var missing = CliRunner.Run("snapshot", Path.Combine(_dir, "nope.pb"), "-o", Path.Combine(_dir, "x"));
        Assert.Equal(2, missing.Exit);
        Assert.Contains("KM9001", missing.Err);
        Assert.False(File.Exists(Path.Combine(_dir, "x")));
        var unwritable = CliRunner.Run("snapshot", input, "-o", Path.Combine(_dir, "no-such-dir", "x.pb"));
        Assert.Equal(2, unwritable.Exit);
        Assert.Contains("cannot write", unwritable.Err);
        Assert.DoesNotContain("   at ", unwritable.Err);
    }

    [Fact]
    public void Snapshots_come_from_stdin_too()
    {
        // Sniffed by content: binary bytes without an extension are a binary snapshot.
        var bytes = SnapshotWriter.Write(XdsWorlds.Rich(), SnapshotFormat.Binary);
        var src = new KmeshCompiler.Frontends.SourceText("-", bytes);
        Assert.Equal(KmeshCompiler.Frontends.InputKind.XdsBinary, KmeshCompiler.Frontends.InputKinds.Classify(src));
        var json = new KmeshCompiler.Frontends.SourceText("-", SnapshotWriter.Write(XdsWorlds.Rich(), SnapshotFormat.Json));
        Assert.Equal(KmeshCompiler.Frontends.InputKind.XdsJson, KmeshCompiler.Frontends.InputKinds.Classify(json));
        var jsonPb = new KmeshCompiler.Frontends.SourceText("dump.pb", json.Bytes);
        Assert.Equal(KmeshCompiler.Frontends.InputKind.XdsJson, KmeshCompiler.Frontends.InputKinds.Classify(jsonPb));
    }
}
