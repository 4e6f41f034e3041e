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
            var expected = XdsWorlds.WithDerivedNodesAndNamespaces(yaml.World);
            Assert.True(IrEquality.Equal(expected with { Nodes = [], Namespaces = [] }, snap with { Nodes = [], Namespaces = [] }),
                IrEquality.FirstDifference(expected, snap));
            Assert.Null(IrEquality.FirstDifference(yaml.World, snap));
        }
    }
}
