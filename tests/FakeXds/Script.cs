using System.Globalization;
using KmeshCompiler.Frontends.Xds;

namespace FakeXds;

/// <summary>A script of steps for the fake server (docs/xds.md, "The fake server"): one step a line,
/// '#' starts a comment (on a line without JSON), paths are relative to the script's directory.
/// <code>
/// apply INPUT...                     serve the world of these inputs instead (changes pushed, the rest removed)
/// put address|authorization NAME JSON  add or replace one resource, given as proto JSON
/// remove address|authorization NAME    remove one resource
/// bad address|authorization NAME       serve a resource under NAME that fails validation
/// drop                               abort every open stream
/// restart MS                         stop listening, wait MS milliseconds, listen again (resources kept)
/// sleep MS                           wait MS milliseconds
/// wait                               wait for a client, then until it holds everything and answered every push (30 s at most)
/// </code></summary>
public sealed record ScriptStep(int Line, string Verb, IReadOnlyList<string> Args, string? Json)
{
    public static IReadOnlyList<ScriptStep> Parse(string text, string file)
    {
        var steps = new List<ScriptStep>();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            string? json = null;
            int brace = line.IndexOf('{');
            if (brace >= 0) { json = line[brace..]; line = line[..brace].TrimEnd(); }
            else if (line.IndexOf('#') is >= 0 and var hash) line = line[..hash].TrimEnd();
            var words = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            string verb = words[0];
            var args = words[1..];
            string? Bad(string why) => $"{file}:{i + 1}: {why}";
            string? error = verb switch
            {
                "apply" when args.Length == 0 => Bad("apply needs at least one INPUT"),
                "put" when args.Length != 2 || json is null => Bad("put needs a type, a name and the resource's JSON: put authorization ns/name {...}"),
                "remove" or "bad" when args.Length != 2 => Bad($"{verb} needs a type and a name: {verb} authorization ns/name"),
                "put" or "remove" or "bad" when Type(args[0]) is null => Bad($"unknown type '{args[0]}': address or authorization"),
                "drop" or "wait" when args.Length != 0 => Bad($"{verb} takes no arguments"),
                "sleep" or "restart" when args.Length != 1 || !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out _) => Bad($"{verb} needs a number of milliseconds"),
                "apply" or "put" or "remove" or "bad" or "drop" or "wait" or "sleep" or "restart" => null,
                _ => Bad($"unknown step '{verb}': apply, put, remove, bad, drop, restart, sleep, wait"),
            };
            if (json is not null && verb != "put") error ??= Bad($"{verb} takes no JSON");
            if (error is not null) throw new FormatException(error);
            steps.Add(new ScriptStep(i + 1, verb, args, json));
        }
        return steps;
    }

    public static string? Type(string word) => word switch
    {
        "address" => TypeUrls.Address,
        "authorization" => TypeUrls.Authorization,
        _ => null,
    };

    /// <summary>Runs the step against <paramref name="server"/>; <paramref name="dir"/> anchors relative paths.</summary>
    public async Task RunAsync(FakeXdsServer server, string dir, CancellationToken ct)
    {
        int Ms() => int.Parse(Args[0], CultureInfo.InvariantCulture);
        switch (Verb)
        {
            case "apply": server.ApplyInputs([.. Args.Select(a => Path.Combine(dir, a))]); break;
            case "put": server.Put(Type(Args[0])!, Args[1], FakeXdsServer.ParseJson(Type(Args[0])!, Json!)); break;
            case "remove": server.Remove(Type(Args[0])!, Args[1]); break;
            case "bad": server.PutBad(Type(Args[0])!, Args[1]); break;
            case "drop": server.DropStreams(); break;
            case "restart": await server.RestartAsync(TimeSpan.FromMilliseconds(Ms())).ConfigureAwait(false); break;
            case "sleep": await Task.Delay(Ms(), ct).ConfigureAwait(false); break;
            case "wait":
                while (server.OpenStreams == 0) await Task.Delay(50, ct).ConfigureAwait(false); // however long the client takes to come
                await server.WaitQuietAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
                break;
        }
    }

    public override string ToString() => $"{Verb} {string.Join(' ', Args)}{(Json is null ? "" : " " + Json)}";
}
