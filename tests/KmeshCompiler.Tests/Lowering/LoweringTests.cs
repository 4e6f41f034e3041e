using System.Collections.Immutable;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;
using static KmeshCompiler.Tests.Lowering.W;

namespace KmeshCompiler.Tests.Lowering;

/// <summary>Semantics the tables must carry, including the flaws of the reference data plane that
/// dataplane.md lists as test cases.</summary>
public class LoweringTests
{
    private static readonly Workload Server = Pod("app", "server", "node-a", "10.0.0.1", "fd00::1");
    private static readonly Workload Client = Pod("app", "client", "node-b", "10.0.0.2", "fd00::2");
    private static readonly Workload Other = Pod("other", "intruder", "node-b", "10.0.9.9") with { ServiceAccount = "bad" };

    private static (ImageFile Image, ImageInterpreter Interp, DiagnosticBag Bag) Compile(IEnumerable<Policy> policies, IEnumerable<Workload>? extra = null, LoweringLimits? limits = null)
    {
        var world = World(new[] { Server, Client, Other }.Concat(extra ?? []), policies);
        var bag = new DiagnosticBag();
        var image = Lowerer.Lower(world, "node-a", bag, limits);
        Assert.True(image is not null, string.Join("\n", bag.Items));
        return (image, new ImageInterpreter(ImageReader.Read("t", image.ToBytes(), bag)!), bag);
    }

    private static KernelVerdict Syn(ImageInterpreter i, string src, string dst = "10.0.0.1", uint port = 80) =>
        i.Syn(IpAddr.Parse(src), IpAddr.Parse(dst), port);

    private static string? Deciding(ImageFile img, KernelVerdict v) => v.Policy is { } p ? img.Name(NameKind.Policy, p) : null;

    [Fact]
    public void EmptyListMeaningsAreCarried()
    {
        var (img, i, _) = Compile(
        [
            Policy("app", "a-no-rules", PolicyAction.Deny),                                   // never matches
            Policy("app", "b-empty-match", PolicyAction.Deny, Rule(Clause(Empty))),           // never matches
            Policy("app", "c-allow-empty-clause", PolicyAction.Allow, Rule(Clause())),        // always
        ]);
        var v = Syn(i, "10.0.0.2");
        Assert.Equal(KernelAction.Pass, v.Action);
        Assert.Equal("app/c-allow-empty-clause", Deciding(img, v));
        var (img2, i2, _) = Compile([Policy("app", "rules-empty-rule", PolicyAction.Deny, Rule())]);
        var d = Syn(i2, "10.0.0.2");
        Assert.Equal(KernelAction.Drop, d.Action);
        Assert.Equal("app/rules-empty-rule", Deciding(img2, d));
        string text = ImageText.Render(img);
        Assert.Contains("DENY, no rules (never matches)", text);
        Assert.Contains("match 0: never matches", text);
        Assert.Contains("no matches (always matches)", text);
    }

    [Fact]
    public void DenyWinsOverAnEarlierMatchingAllow()
    {
        var (img, i, _) = Compile(
        [
            Policy("app", "a-allow", PolicyAction.Allow, Rule(Clause(From("10.0.0.0/24")))),
            Policy("app", "z-deny", PolicyAction.Deny, Rule(Clause(From("10.0.0.2")))),
        ]);
        var v = Syn(i, "10.0.0.2");
        Assert.Equal(KernelAction.Drop, v.Action);
        Assert.Equal("app/z-deny", Deciding(img, v));
        Assert.Equal(KernelAction.Pass, Syn(i, "10.0.0.3").Action);
        Assert.Contains("policies: app/z-deny, app/a-allow", ImageText.Render(img));
    }

    [Fact]
    public void AThousandPoliciesAndLongListsAreAllEvaluated()
    {
        var policies = Enumerable.Range(0, 1000)
            .Select(k => Policy("app", $"allow-{k:D4}", PolicyAction.Allow,
                Rule(Clause(From([.. Enumerable.Range(1, 10).Select(x => $"192.{k / 250}.{k % 250}.{x}")])))))
            .Append(Policy("app", "zzz-deny", PolicyAction.Deny, Rule(Clause(From([.. Enumerable.Range(1, 9).Select(x => $"172.16.0.{x}"), "10.0.0.2"])))))
            .ToList();
        var (img, i, _) = Compile(policies);
        var v = Syn(i, "10.0.0.2");
        Assert.Equal(KernelAction.Drop, v.Action);
        Assert.Equal("app/zzz-deny", Deciding(img, v));
        Assert.Equal(Layout.TailCalls, v.TailCalls);
        var a = Syn(i, "192.3.249.10");
        Assert.Equal(KernelAction.Pass, a.Action);
        Assert.Equal("app/allow-0999", Deciding(img, a));
        Assert.Equal(KernelAction.Drop, Syn(i, "192.4.0.1").Action);
    }

    [Fact]
    public void NamespaceOnlyDenyDropsOnlyThatNamespace()
    {
        var (_, i, _) = Compile([Policy("app", "deny-other", PolicyAction.Deny, Rule(Clause(Empty with { Namespaces = [Exact("other")] })))]);
        Assert.Equal(KernelAction.Drop, Syn(i, "10.0.9.9").Action);
        Assert.Equal(KernelAction.Pass, Syn(i, "10.0.0.2").Action);
        Assert.Equal(KernelAction.Pass, Syn(i, "203.0.113.5").Action); // no identity: namespace "" ≠ other
    }

    [Fact]
    public void NotPrincipalsAdmitsPlaintextClients()
    {
        var (img, i, _) = Compile([Policy("app", "allow-not-bad", PolicyAction.Allow,
            Rule(Clause(Empty with { NotPrincipals = [Exact("cluster.local/ns/other/sa/bad")] })))]);
        Assert.Equal(KernelAction.Pass, Syn(i, "203.0.113.5").Action);
        Assert.Equal(KernelAction.Pass, Syn(i, "10.0.0.2").Action);
        Assert.Equal(KernelAction.Drop, Syn(i, "10.0.9.9").Action);
        // The one failing identity is all of its namespace: a namespace test, not the addresses that
        // carry it; no identity (member 0) is not in the set, so it passes.
        Assert.Contains("namespace not in id set 1 {namespace other}", ImageText.Render(img));
    }

    [Fact]
    public void NamespaceMatchingTheEmptyStringPassesUnknownSources()
    {
        // An empty prefix (possible from xDS) holds for "", the namespace of a source without identity.
        var (_, i, _) = Compile([Policy("app", "allow-prefix", PolicyAction.Allow,
            Rule(Clause(Empty with { Namespaces = [new StringMatch(StringMatchKind.Prefix, "")], NotNamespaces = [Exact("other")] })))]);
        Assert.Equal(KernelAction.Pass, Syn(i, "203.0.113.5").Action);
        Assert.Equal(KernelAction.Pass, Syn(i, "10.0.0.2").Action);
        Assert.Equal(KernelAction.Drop, Syn(i, "10.0.9.9").Action);
    }

    [Fact]
    public void IdentityNoSourceCanHaveIsANeverMatch()
    {
        var (img, i, _) = Compile([Policy("app", "allow-nobody", PolicyAction.Allow,
            Rule(Clause(Empty with { Namespaces = [Exact("nope")] })))]);
        Assert.Equal(KernelAction.Drop, Syn(i, "10.0.0.2").Action);
        Assert.Contains("match 0: never matches", ImageText.Render(img));
    }

    [Fact]
    public void PresencePrincipalIsEveryWorkloadAddressAndNoUnknown()
    {
        var (img, i, _) = Compile([Policy("app", "allow-any-id", PolicyAction.Allow,
            Rule(Clause(Empty with { Principals = [new StringMatch(StringMatchKind.Presence, "")] })))]);
        Assert.Equal(KernelAction.Pass, Syn(i, "10.0.0.2").Action);
        Assert.Equal(KernelAction.Pass, Syn(i, "fd00::2", "fd00::1").Action);
        Assert.Equal(KernelAction.Drop, Syn(i, "10.0.0.3").Action);
        // Every identity passes and no identity fails: one member, whatever the number of workloads.
        Assert.Contains("namespace not in id set 1 {(no identity)}", ImageText.Render(img));
        Assert.Single(new ImageTables(img).IdSets.Values.SelectMany(m => m));
    }

    [Fact]
    public void Ipv6RuleAddressesMatchAndNeverMeetIpv4()
    {
        var (_, i, _) = Compile([Policy("app", "deny-v6", PolicyAction.Deny, Rule(Clause(From("fd00::/120", "::ffff:10.0.0.0/104"))))]);
        Assert.Equal(KernelAction.Drop, Syn(i, "fd00::2", "fd00::1").Action);
        Assert.Equal(KernelAction.Pass, Syn(i, "fd00::1:2", "fd00::1").Action);
        Assert.Equal(KernelAction.Pass, Syn(i, "10.0.0.2").Action); // an IPv6 prefix never holds an IPv4 address
        var (_, j, _) = Compile([Policy("app", "deny-all-v4", PolicyAction.Deny, Rule(Clause(From("0.0.0.0/0"))))]);
        Assert.Equal(KernelAction.Drop, Syn(j, "10.0.0.2").Action);
        Assert.Equal(KernelAction.Pass, Syn(j, "::ffff:10.0.0.2", "fd00::1").Action);
    }

    [Fact]
    public void DryRunIsCountedNeverEnforced()
    {
        var dry = Policy("app", "dry-deny", PolicyAction.Deny, Rule(Clause(From("10.0.0.2")))) with { DryRun = true };
        var (img, i, _) = Compile([dry]);
        var v = Syn(i, "10.0.0.2");
        Assert.Equal(KernelAction.Pass, v.Action);
        Assert.Equal(Layout.VerdictAllowNoAllow, v.Verdict);
        Assert.Equal(["app/dry-deny"], v.PolicyMatched.Select(p => img.Name(NameKind.Policy, p)));
        Assert.Contains("DENY dry-run", ImageText.Render(img));
    }

    [Fact]
    public void DryRunAllowDoesNotMakeAllowPoliciesExist()
    {
        var dry = Policy("app", "dry-allow", PolicyAction.Allow, Rule(Clause(From("10.0.0.99")))) with { DryRun = true };
        var (_, i, _) = Compile([dry]);
        Assert.Equal(KernelAction.Pass, Syn(i, "10.0.0.2").Action);
    }

    [Fact]
    public void PortIndexSkipsPoliciesThatCannotMatchThePort()
    {
        var policies = Enumerable.Range(0, 100)
            .Select(k => Policy("app", $"allow-{k:D3}", PolicyAction.Allow, Rule(Clause(Ports((uint)(8000 + k))), Clause(From("10.0.0.2")))))
            .ToList();
        var (img, i, _) = Compile(policies);
        var v = Syn(i, "10.0.0.2", port: 8042);
        Assert.Equal(KernelAction.Pass, v.Action);
        Assert.Equal("app/allow-042", Deciding(img, v));
        Assert.True(v.MaxSteps <= 4, $"{v.MaxSteps} steps for one candidate policy");
        var other = Syn(i, "10.0.0.2", port: 9999);
        Assert.Equal(KernelAction.Drop, other.Action);
        Assert.Equal(Layout.VerdictDenyNoneAllow, other.Verdict);
        Assert.Equal(0u, other.MaxSteps);
    }

    [Fact]
    public void IdenticalRowsAreStoredOnce()
    {
        var rule = Rule(Clause(From("10.0.0.0/24"), Ports(80, 443)), Clause(Empty with { Namespaces = [Exact("app")] }));
        var (img, _, _) = Compile(Enumerable.Range(0, 50).Select(k => Policy("app", $"p{k}", PolicyAction.Allow, rule)));
        var t = new ImageTables(img);
        Assert.Equal(50, t.Policies.Length);
        Assert.Single(t.Rules);
        Assert.Equal(2, t.Clauses.Length);
        Assert.Equal(3, t.Matches.Length);
        Assert.Single(t.AddrSets); // the CIDR
        Assert.Single(t.IdSets); // the namespace
    }

    [Fact]
    public void ClauseStepsJustOverTheBudgetAreAnErrorNamingTheWorkload()
    {
        Policy Big(int n) => Policy("app", "huge", PolicyAction.Allow, Rule(Clause([.. Enumerable.Range(0, n).Select(k => Ports((uint)k))])));
        // One clause of n matches: the clause stage takes 1 + n steps.
        var ok = Lowerer.Lower(World([Server], [Big((int)Layout.MaxStageSteps - 1)]), "node-a", new DiagnosticBag());
        Assert.NotNull(ok);
        var bag = new DiagnosticBag();
        Assert.Null(Lowerer.Lower(World([Server], [Big((int)Layout.MaxStageSteps)]), "node-a", bag));
        var d = Assert.Single(bag.Items, x => x.Severity == Severity.Error);
        Assert.Equal("KM7003", d.Code);
        Assert.Contains("workload 'app/server'", d.Message);
        Assert.Contains("clause stage needs 65537 steps", d.Message);
        Assert.Contains("65536", d.Message);
    }

    [Fact]
    public void TooManyMatchesIsACapacityError()
    {
        var policies = Enumerable.Range(0, 2).Select(p => Policy("app", $"p{p}", PolicyAction.Allow,
            Rule(Clause([.. Enumerable.Range(0, (int)Layout.MaxMatches / 2 + p).Select(k => From($"10.{p}.{k / 256}.{k % 256}"))])))).ToList();
        var bag = new DiagnosticBag();
        Assert.Null(Lowerer.Lower(World([Server], policies), "node-a", bag));
        Assert.Contains(bag.Items, d => d.Code == "KM7002" && d.Message.Contains("km_matches needs 65537 entries but holds at most 65536"));
    }

    [Fact]
    public void PolicyCapacityJustOverIsAnError()
    {
        var limits = new LoweringLimits { Capacities = new Dictionary<string, uint> { [Layout.MapPolicies] = 3 } };
        var three = Enumerable.Range(0, 3).Select(k => Policy("app", $"p{k}", PolicyAction.Allow, Rule())).ToList();
        Assert.NotNull(Lowerer.Lower(World([Server], three), "node-a", new DiagnosticBag(), limits));
        var bag = new DiagnosticBag();
        Assert.Null(Lowerer.Lower(World([Server], [.. three, Policy("app", "p3", PolicyAction.Allow, Rule())]), "node-a", bag, limits));
        Assert.Contains(bag.Items, d => d.Code == "KM7002" && d.Message.Contains("km_policies needs 4 entries but holds at most 3"));
    }

    [Theory]
    [InlineData(Layout.MapAddrSets)]
    [InlineData(Layout.MapLists)]
    public void SetAndListCapacityJustUnderTheNeedIsAnErrorWithTheExactCount(string map)
    {
        // Rows of these maps are not built once they cannot fit: the count must still be exact.
        var policies = Enumerable.Range(0, 3).Select(p => Policy("app", $"p{p}", PolicyAction.Allow,
            Rule(Clause([.. Enumerable.Range(0, 5 + p).Select(k => From($"10.{p}.0.{k}"))])))).ToList();
        var world = World([Server], policies);
        Assert.NotNull(Lowerer.Lower(world, "node-a", new DiagnosticBag(), null, out var stats));
        int needed = stats!.Entries[map];
        Assert.True(needed > 1);
        var exact = new LoweringLimits { Capacities = new Dictionary<string, uint> { [map] = (uint)needed } };
        Assert.NotNull(Lowerer.Lower(world, "node-a", new DiagnosticBag(), exact));
        var under = new LoweringLimits { Capacities = new Dictionary<string, uint> { [map] = (uint)needed - 1 } };
        var bag = new DiagnosticBag();
        Assert.Null(Lowerer.Lower(world, "node-a", bag, under));
        var d = Assert.Single(bag.Items, x => x.Severity == Severity.Error);
        Assert.Equal("KM7002", d.Code);
        Assert.Contains($"{map} needs {needed} entries but holds at most {needed - 1}", d.Message);
    }

    [Fact]
    public void KeysCompareLikeTheirStrings()
    {
        // The canonical-order check compares "namespace/name" keys without building them; '/' sorts
        // after '-' and '.', before letters and digits, and a key may be a prefix of another.
        var rng = new Random(7);
        string[] parts = ["", "a", "a-b", "a.b", "a/b", "ab", "b", "team-1", "team-10", "team-1/x", "\u00e9", "Z"];
        for (int i = 0; i < 5000; i++)
        {
            string a1 = parts[rng.Next(parts.Length)], a2 = parts[rng.Next(parts.Length)];
            string b1 = parts[rng.Next(parts.Length)], b2 = parts[rng.Next(parts.Length)];
            int expected = Math.Sign(string.CompareOrdinal($"{a1}/{a2}", $"{b1}/{b2}"));
            Assert.True(expected == Math.Sign(Lowerer.CompareKeys(a1, a2, b1, b2)), $"{a1}/{a2} vs {b1}/{b2}");
        }
    }

    [Fact]
    public void UnknownNodeIsAnError()
    {
        var bag = new DiagnosticBag();
        Assert.Null(Lowerer.Lower(World([Server], []), "node-z", bag));
        var d = Assert.Single(bag.Items);
        Assert.Equal("KM7001", d.Code);
        Assert.Contains("node-a, node-b", d.Message);
    }

    [Fact]
    public void AddressOwnedByAnotherWorkloadIsNotAuthorizedHere()
    {
        var twin = Pod("app", "twin", "node-a", "10.0.0.2"); // uid sorts after the client's
        var (img, i, bag) = Compile([], [twin]);
        Assert.Contains(bag.Items, d => d.Code == "KM7005" && d.Message.Contains("app/client"));
        Assert.Equal(KernelAction.NotEvaluated, Syn(i, "10.0.0.1", "10.0.0.2").Action);
        Assert.DoesNotContain("10.0.0.2 -> workload", ImageText.Render(img));
    }
}
