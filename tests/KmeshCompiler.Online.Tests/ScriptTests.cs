using FakeXds;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Online.Tests;

/// <summary>The fake server's script: its format, its errors, and the demo script run against a client.</summary>
public class ScriptTests
{
    [Fact]
    public void Bad_lines_are_refused_with_their_file_and_line()
    {
        string Error(string text) => Assert.Throws<FormatException>(() => ScriptStep.Parse(text, "s.txt")).Message;
        Assert.Equal("s.txt:2: unknown step 'dorp': apply, put, remove, bad, drop, restart, sleep, wait", Error("drop\ndorp"));
        Assert.StartsWith("s.txt:1: put needs a type, a name and the resource's JSON", Error("put authorization ns/p"));
        Assert.StartsWith("s.txt:3: unknown type 'policy'", Error("# c\n\nremove policy ns/p"));
        Assert.StartsWith("s.txt:1: sleep needs a number of milliseconds", Error("sleep soon"));
        Assert.StartsWith("s.txt:1: apply needs at least one INPUT", Error("apply"));
        Assert.StartsWith("s.txt:1: drop takes no JSON", Error("drop {}"));
        var steps = ScriptStep.Parse("apply a b\nput authorization ns/p {\"name\": \"p\"}\nsleep 5 # later\n", "s.txt");
        Assert.Equal(["apply", "put", "sleep"], steps.Select(s => s.Verb));
        Assert.Equal("{\"name\": \"p\"}", steps[1].Json);
        Assert.Equal(3, steps[2].Line);
    }

    [Fact]
    public async Task The_demo_script_runs_against_the_client_and_ends_where_it_started()
    {
        string file = Path.Combine(Harness.RepoRoot, "tests", "FakeXds", "scripts", "demo.txt");
        var steps = ScriptStep.Parse(File.ReadAllText(file), file).Where(s => s.Verb != "sleep").ToList();
        await using var h = await Harness.StartAsync();
        foreach (var step in steps)
        {
            await step.RunAsync(h.Server, Path.GetDirectoryName(file)!, CancellationToken.None);
            if (step.Verb == "apply" && step.Args[0].EndsWith("bookinfo-change", StringComparison.Ordinal))
            {
                await h.ConvergedAsync();
                var changed = Harness.AsServed(FakeXdsServer.Load([Harness.Example("bookinfo-change")]));
                Assert.True(IrEquality.Equal(changed, h.ClientWorld()), IrEquality.FirstDifference(changed, h.ClientWorld()));
            }
        }
        await h.ConvergedAsync();
        var nack = Assert.Single(h.Server.Requests, r => r.Kind == "NACK");
        Assert.StartsWith("bookinfo/broken: KM5007", nack.Error);
        Assert.Contains(h.Events.Responses, r => r.Updated == 1 && r.Type == TypeUrls.Authorization);
        Assert.True(h.Server.StreamsOpened >= 2);
        Assert.True(IrEquality.Equal(Harness.Bookinfo, h.ClientWorld()), IrEquality.FirstDifference(Harness.Bookinfo, h.ClientWorld()));
    }
}
