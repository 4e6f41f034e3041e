using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Xds;

/// <summary>A YAML world and its snapshot are the same IR (semantics §1: "both inputs must produce
/// the same typed IR for the same cluster").</summary>
public class YamlParityTests
{
    public static TheoryData<string> Examples() => [.. Directory.GetDirectories(Repo.Path("examples")).Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_yaml_and_its_snapshot_give_the_same_ir(string example)
    {
        var yaml = InputLoader.Load([Repo.Path("examples", example)], FrontendSettings.Default);
        Assert.False(yaml.HasErrors, string.Join("\n", yaml.Diagnostics.Items));
        foreach (var f in new[] { SnapshotFormat.Binary, SnapshotFormat.Json })
        {
            var snap = RoundTripTests.Read(SnapshotWriter.Write(yaml.World, f), "example", out var bag);
            Assert.False(bag.HasErrors, string.Join("\n", bag.Items));
            // Nodes and namespaces are derived from the wire (docs/xds.md): the rest is the same IR.
            var expected = XdsWorlds.WithDerivedNodesAndNamespaces(yaml.World);
            Assert.Null(IrEquality.FirstDifference(expected, snap));
            // bookinfo's nodes all host workloads and carry no network label, and every namespace
            // holds an object: nothing is lost at all.
            if (example == "bookinfo") Assert.Null(IrEquality.FirstDifference(yaml.World, snap));
        }
    }
}

public sealed class MixedInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kmesh-xds-mixed-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_snapshot_of_workloads_and_services_mixes_with_yaml_policies()
    {
        var full = InputLoader.Load([Repo.Path("examples", "bookinfo")], FrontendSettings.Default);
        string snap = Path.Combine(_dir, "endpoints.pb");
        File.WriteAllBytes(snap, SnapshotWriter.Write(full.World with { Policies = [] }, SnapshotFormat.Binary));
        var mixed = InputLoader.Load([snap, Repo.Path("examples", "bookinfo", "policies.yaml")], FrontendSettings.Default);
        Assert.False(mixed.HasErrors, string.Join("\n", mixed.Diagnostics.Items));
        Assert.True(IrEquality.Equal(full.World with { Namespaces = [] }, mixed.World with { Namespaces = [] }),
            IrEquality.FirstDifference(full.World, mixed.World));

        // Through the CLI: the snapshot of the mix is the snapshot of the whole.
        string whole = Path.Combine(_dir, "whole.pb"), fromMix = Path.Combine(_dir, "mix.pb");
        Assert.Equal(0, CliRunner.Run("snapshot", "examples/bookinfo", "-o", whole).Exit);
        Assert.Equal(0, CliRunner.Run("snapshot", snap, "examples/bookinfo/policies.yaml", "-o", fromMix).Exit);
        Assert.Equal(File.ReadAllBytes(whole), File.ReadAllBytes(fromMix));
    }

    [Fact]
    public void An_object_in_both_a_snapshot_and_yaml_is_reported_twice_defined()
    {
        var full = InputLoader.Load([Repo.Path("examples", "bookinfo")], FrontendSettings.Default);
        string snap = Path.Combine(_dir, "all.pb");
        File.WriteAllBytes(snap, SnapshotWriter.Write(full.World, SnapshotFormat.Binary));
        var both = InputLoader.Load([snap, Repo.Path("examples", "bookinfo", "policies.yaml")], FrontendSettings.Default);
        var dups = both.Diagnostics.Items.Where(d => d.Code == "KM9004").ToList();
        Assert.Equal(full.World.Policies.Length, dups.Count);
        Assert.All(dups, d => Assert.Equal("all.pb", Path.GetFileName(d.Location.File)));
    }
}
