using Google.Protobuf;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;
using Sec = KmeshCompiler.Frontends.Xds.Wire.Security;
using Wl = KmeshCompiler.Frontends.Xds.Wire.Workload;

namespace KmeshCompiler.Tests.Xds;

/// <summary>The decoder one resource at a time (what a client ACKs or NACKs): the same rules and the
/// same world as reading the whole snapshot, and a reason for every resource it rejects.</summary>
public class ResourceDecoderTests
{
    private static List<DecodedResource> DecodeAll(World w)
    {
        var decoder = new XdsResourceDecoder("stream");
        var list = new List<DecodedResource>();
        foreach (var r in SnapshotWriter.Responses(w))
            foreach (var res in r.Resources)
                list.Add(decoder.Decode(res.Resource_.TypeUrl, res.Resource_.Value.Span, res.Name));
        return list;
    }

    [Fact]
    public void Resources_decoded_one_by_one_give_the_world_of_the_snapshot()
    {
        for (int seed = 0; seed < 20; seed++)
        {
            var world = XdsWorlds.Random(new Random(seed));
            var bytes = SnapshotWriter.Write(world, SnapshotFormat.Binary);
            var fileBag = new DiagnosticBag();
            var fromFile = XdsFrontend.Read(new SourceText("s.pb", bytes), FrontendSettings.Default, fileBag);
            var decoded = DecodeAll(world);
            Assert.All(decoded, d => Assert.True(d.Accepted, d.Rejection));
            var bag = new DiagnosticBag();
            var fromStream = XdsResourceDecoder.ToWorld(decoded, bag);
            Assert.True(IrEquality.Equal(fromFile, fromStream), $"seed {seed}: {IrEquality.FirstDifference(fromFile, fromStream)}");
            Assert.Equal(fileBag.Items.Select(d => d.Code), bag.Items.Select(d => d.Code));
        }
    }

    [Fact]
    public void A_resource_that_fails_validation_has_a_reason_and_no_element()
    {
        var decoder = new XdsResourceDecoder("stream");
        var bad = new Sec.Authorization { Name = "p", Namespace = "ns", Action = (Sec.Action)7 };
        var d = decoder.Decode(TypeUrls.Authorization, bad.ToByteArray(), "ns/p");
        Assert.False(d.Accepted);
        Assert.Null(d.Element);
        Assert.StartsWith("KM5007 ", d.Rejection);
        Assert.Contains("action", d.Rejection);
        Assert.Equal("ns/p", Assert.Single(d.Diagnostics).Location.Resource);

        var addr = new Wl.Address { Workload = new Wl.Workload { Uid = "u", Addresses = { ByteString.CopyFrom(1, 2, 3) } } };
        d = decoder.Decode(TypeUrls.Address, addr.ToByteArray(), "u");
        Assert.False(d.Accepted);
        Assert.StartsWith("KM5010 ", d.Rejection);

        d = decoder.Decode(TypeUrls.Authorization, [0x0A, 0x05, 0x41], "ns/cut");
        Assert.False(d.Accepted);
        Assert.StartsWith("KM5006 ", d.Rejection);

        d = decoder.Decode("type.googleapis.com/envoy.config.cluster.v3.Cluster", [], "c");
        Assert.False(d.Accepted);
        Assert.StartsWith("KM5005 ", d.Rejection);
    }

    [Fact]
    public void Entries_dropped_inside_an_accepted_policy_are_warnings_kept_with_it()
    {
        var p = new Sec.Authorization
        {
            Name = "p", Namespace = "ns", Action = Sec.Action.Deny,
            Rules = { new Sec.Rule { Clauses = { new Sec.Clause { Matches = { new Sec.Match { Principals = { new Sec.StringMatch() }, DestinationPorts = { 80 } } } } } } },
        };
        var d = new XdsResourceDecoder().Decode(TypeUrls.Authorization, p.ToByteArray(), "ns/p");
        Assert.True(d.Accepted);
        Assert.Null(d.Rejection);
        var policy = Assert.IsType<Policy>(d.Element);
        Assert.Equal(PolicyAction.Deny, policy.Action);
        Assert.Equal("KM5008", Assert.Single(d.Diagnostics).Code);
    }
}
