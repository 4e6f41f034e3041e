using System.Globalization;
using KmeshCompiler.Tests.Support;
using Xunit.Abstractions;

namespace KmeshCompiler.Tests.Fuzz;

/// <summary>Fuzzing runs alone, after the parallel tests, so the bytes a case allocates (process-wide)
/// and its time are its own.</summary>
[CollectionDefinition(nameof(FuzzTests), DisableParallelization = true)]
public sealed class FuzzCollection;

/// <summary>The bounded fuzz run of the suite (about ten seconds per input kind) and the replay of
/// every crasher ever found. The long run is the same test with more time (docs/files.md):
/// <c>KMESH_FUZZ_SECONDS=600 dotnet test tests/KmeshCompiler.Tests -c Release --filter FullyQualifiedName~Fuzz</c>;
/// KMESH_FUZZ_SEED picks another seed. Each run appends its worst case per kind to
/// .build/fuzz-report.txt.</summary>
[Collection(nameof(FuzzTests))]
public class FuzzTests(ITestOutputHelper output)
{
    /// <summary>A case that needs longer than this (or allocates more) is a defect: decoding is linear
    /// in the input with a small constant, and the inputs are a few kilobytes.</summary>
    public const double MaxCaseMs = 2000;
    public const long MaxCaseAllocated = 200L * 1024 * 1024;

    private static double Seconds => double.TryParse(Environment.GetEnvironmentVariable("KMESH_FUZZ_SECONDS"), CultureInfo.InvariantCulture, out var s) ? s : 10;
    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("KMESH_FUZZ_SEED"), CultureInfo.InvariantCulture, out var s) ? s : 12;

    [Theory]
    [InlineData(FuzzKind.Yaml)]
    [InlineData(FuzzKind.JsonSnapshot)]
    [InlineData(FuzzKind.BinarySnapshot)]
    [InlineData(FuzzKind.Kpl)]
    [InlineData(FuzzKind.Image)]
    [InlineData(FuzzKind.RehashedImage)]
    public void Mutated_inputs_never_crash_and_stay_bounded(FuzzKind kind)
    {
        var crashes = new List<string>();
        var stats = new Fuzzer(kind, Seed + (int)kind).Run(TimeSpan.FromSeconds(Seconds), Fuzzer.CrasherDir, crashes);
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{DateTime.UtcNow:yyyy-MM-dd} seed {Seed} {kind}: {stats.Cases} cases in {Seconds:F0} s ({stats.Command}); worst case {stats.WorstMs:F0} ms, {stats.WorstAllocated / (1024.0 * 1024):F1} MB allocated; {stats.Crashes} crashes");
        output.WriteLine(line);
        Directory.CreateDirectory(Repo.Path(".build"));
        File.AppendAllText(Repo.Path(".build", "fuzz-report.txt"), line + "\n");
        Assert.True(crashes.Count == 0, "crashers kept in Fuzz/crashers:\n" + string.Join('\n', crashes));
        Assert.True(stats.Cases > 0);
        Assert.True(stats.WorstMs < MaxCaseMs, line);
        Assert.True(stats.WorstAllocated < MaxCaseAllocated, line);
    }

    public static TheoryData<string> Crashers()
    {
        var d = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Fuzzer.CrasherDir).Order(StringComparer.Ordinal)) d.Add(Path.GetFileName(f));
        return d;
    }

    /// <summary>Every input that once crashed, run again through the code of its command.</summary>
    [Theory]
    [MemberData(nameof(Crashers))]
    public void Kept_crashers_no_longer_crash(string name)
    {
        var kind = Path.GetExtension(name) switch
        {
            ".yaml" => FuzzKind.Yaml,
            ".json" => FuzzKind.JsonSnapshot,
            ".pb" => FuzzKind.BinarySnapshot,
            ".kpl" => FuzzKind.Kpl,
            _ => FuzzKind.Image,
        };
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Fuzzer.Execute(kind, File.ReadAllBytes(Path.Combine(Fuzzer.CrasherDir, name)));
        Assert.True(sw.Elapsed.TotalMilliseconds < MaxCaseMs, $"{name}: {sw.Elapsed.TotalMilliseconds:F0} ms");
    }
}
