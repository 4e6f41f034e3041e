using System.Diagnostics;
using KmeshCompiler.IO;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Hardening;

/// <summary>The CLI against paths and environments that try to break it (docs/files.md): special files
/// as inputs or outputs, an output that is an input, a read-only folder, a full disk, a folder that
/// cannot be listed. Each asserts the exit code, the message, and that nothing but the intended output
/// changed.</summary>
public sealed class HostileEnvironmentTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kmesh-hostile-").FullName;
    private readonly string _in;

    public HostileEnvironmentTests()
    {
        _in = Path.Combine(_dir, "in");
        Directory.CreateDirectory(_in);
        foreach (var f in Directory.GetFiles(Repo.Path("examples", "bookinfo"), "*.yaml"))
            File.Copy(f, Path.Combine(_in, Path.GetFileName(f)));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private CliResult Compile(params string[] extra) => Hostile.Run(60, ["compile", _in, "--node", "node-a", .. extra]);

    private void Unchanged(SortedDictionary<string, string> before) => Assert.Equal(before, Hostile.Tree(_dir));

    [Fact]
    public void Dev_null_as_output_is_refused_and_stays_a_device()
    {
        var before = Hostile.Tree(_dir);
        var r = Compile("-o", "/dev/null");
        Assert.Equal(2, r.Exit);
        Assert.Contains("refusing to write '/dev/null'", r.Err);
        Assert.Equal(FileKind.CharDevice, FileStat.Of("/dev/null").Kind);
        Unchanged(before);
    }

    [Fact]
    public void Dev_stdout_is_refused_with_a_hint_to_use_dash()
    {
        var r = Compile("-o", "/dev/stdout");
        Assert.Equal(2, r.Exit);
        Assert.Contains("use - for standard output", r.Err);
    }

    [Fact]
    public void A_fifo_as_output_is_refused_without_blocking()
    {
        string fifo = Path.Combine(_dir, "out.fifo");
        Hostile.MkFifo(fifo);
        var before = Hostile.Tree(_dir);
        var r = Compile("-o", fifo);
        Assert.Equal(2, r.Exit);
        Assert.Contains("it is a FIFO", r.Err);
        Unchanged(before);
    }

    [Fact]
    public void A_directory_as_output_is_refused_and_leaves_no_temporary()
    {
        var before = Hostile.Tree(_dir);
        var r = Compile("-o", _dir);
        Assert.Equal(2, r.Exit);
        Assert.Contains("it is a directory", r.Err);
        Unchanged(before);
    }

    [Fact]
    public void An_empty_output_path_is_a_usage_error()
    {
        var r = Compile("-o", "");
        Assert.Equal(2, r.Exit);
        Assert.Contains("output path is empty", r.Err);
    }

    [Fact]
    public void The_same_file_for_image_and_text_is_refused()
    {
        string x = Path.Combine(_dir, "x");
        var before = Hostile.Tree(_dir);
        var r = Compile("-o", x, "--text", x);
        Assert.Equal(2, r.Exit);
        Assert.Contains("named as two outputs", r.Err);
        Unchanged(before);
    }

    [Fact]
    public void An_output_that_is_an_input_is_refused_before_reading()
    {
        string input = Path.Combine(_in, "policies.yaml");
        var before = Hostile.Tree(_dir);
        var r = Hostile.Run(60, "compile", Path.Combine(_in, "cluster.yaml"), input, "--node", "node-a", "-o", input);
        Assert.Equal(2, r.Exit);
        Assert.Contains("is also an input", r.Err);
        // A hard link to an input is the same file.
        string link = Path.Combine(_dir, "link.yaml");
        File.CreateSymbolicLink(link, input);
        before = Hostile.Tree(_dir);
        r = Hostile.Run(60, "snapshot", input, "-o", link);
        Assert.Equal(2, r.Exit);
        Assert.Contains("is also an input", r.Err);
        Unchanged(before);
        // A file the directory input would read next time.
        r = Compile("-o", Path.Combine(_in, "image.yaml"));
        Assert.Equal(2, r.Exit);
        Assert.Contains("would be read as an input", r.Err);
        Unchanged(before);
    }

    [Fact]
    public void Dash_is_standard_output_and_no_file_named_dash_appears()
    {
        var r = Compile("-o", "-");
        Assert.Equal(0, r.Exit);
        Assert.StartsWith("KMSHIMG", r.Out);
        Assert.Contains("-: node node-a", r.Err);
        Assert.False(File.Exists(Path.Combine(Repo.Root, "-")));
        r = Compile("-o", "-", "--text", "-");
        Assert.Equal(2, r.Exit);
        Assert.Contains("more than one output", r.Err);
    }

    [Fact]
    public void When_one_output_cannot_be_written_none_is()
    {
        string img = Path.Combine(_dir, "node.img");
        File.WriteAllText(img, "previous");
        var before = Hostile.Tree(_dir);
        var r = Compile("-o", img, "--text", Path.Combine(_dir, "missing", "node.txt"));
        Assert.Equal(2, r.Exit);
        Assert.Contains("does not exist", r.Err);
        Unchanged(before);
    }

    [Fact]
    public void A_symbolic_link_output_replaces_its_target_and_stays_a_link()
    {
        string target = Path.Combine(_dir, "real.img"), link = Path.Combine(_dir, "link.img");
        File.WriteAllText(target, "previous");
        File.CreateSymbolicLink(link, target);
        var r = Compile("-o", link);
        Assert.Equal(0, r.Exit);
        Assert.Equal(FileKind.Symlink, FileStat.Of(link, followLinks: false).Kind);
        Assert.StartsWith("KMSHIMG", File.ReadAllText(target));
    }

    [Fact]
    public void Special_files_named_as_inputs_are_errors_that_never_block()
    {
        string fifo = Path.Combine(_dir, "in.yaml");
        Hostile.MkFifo(fifo);
        foreach (var args in new[] { new[] { "validate", fifo }, ["inspect", fifo], ["fmt", "--check", fifo], ["validate", "/dev/zero"],
                     ["inspect", "/dev/zero"], ["fmt", "--check", "/dev/zero"], ["validate", "/dev/null"], ["snapshot", "/dev/null", "-o", Path.Combine(_dir, "s.pb")] })
        {
            var r = Hostile.Run(20, args);
            Assert.True(r.Exit == 2, $"{string.Join(' ', args)}: exit {r.Exit}\n{r.Out}{r.Err}");
            Assert.Contains("KM9020", r.Out + r.Err);
            Assert.Contains("not a regular file", r.Out + r.Err);
        }
        // With a writer waiting on the FIFO, still refused (nothing opens it).
        using var writer = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", $"echo 'kind: Namespace' > '{fifo}'"]))!;
        try
        {
            var r = Hostile.Run(20, "validate", fifo);
            Assert.Equal(2, r.Exit);
            Assert.Contains("is a FIFO", r.Out + r.Err);
        }
        finally { writer.Kill(); }
        Assert.False(File.Exists(Path.Combine(_dir, "s.pb")));
    }

    [Fact]
    public void A_fifo_inside_an_input_directory_is_skipped_with_a_warning()
    {
        Hostile.MkFifo(Path.Combine(_in, "stray.yaml"));
        var r = Hostile.Run(30, "validate", _in);
        Assert.Equal(0, r.Exit);
        Assert.Contains("warning KM9021: skipped", r.Out + r.Err);
        Assert.Contains("stray.yaml", r.Out + r.Err);
        r = Compile("-o", Path.Combine(_dir, "node.img"));
        Assert.Equal(0, r.Exit);
    }

    [Fact]
    public void Missing_and_oversized_inputs_name_the_path_in_the_message()
    {
        string missing = Path.Combine(_dir, "nope.img");
        var r = Hostile.Run(20, "inspect", missing);
        Assert.Equal(2, r.Exit);
        Assert.Contains($"'{missing}' does not exist", r.Err);
        string big = Path.Combine(_dir, "big.img");
        using (var f = File.Create(big)) f.SetLength(KmeshCompiler.Image.ImageReader.MaxImageBytes + 1); // sparse
        r = Hostile.Run(20, "inspect", big);
        Assert.Equal(1, r.Exit);
        Assert.Contains($"'{big}' is {KmeshCompiler.Image.ImageReader.MaxImageBytes + 1} bytes", r.Err);
        Assert.DoesNotContain("{0}", r.Err);
    }

    [Fact]
    public void Fmt_replaces_every_changed_file_together_and_a_file_named_twice_once()
    {
        string a = Path.Combine(_dir, "a.kpl"), b = Path.Combine(_dir, "b.kpl");
        File.WriteAllText(a, "namespace   ns\n");
        File.WriteAllText(b, "namespace   other\n");
        var r = Hostile.Run(20, "fmt", a, b, a);
        Assert.True(r.Exit == 0, r.Err);
        Assert.Equal("namespace ns\n", File.ReadAllText(a));
        Assert.Equal("namespace other\n", File.ReadAllText(b));
        Assert.Equal(2, r.Out.Split('\n').Count(l => l.StartsWith("formatted ", StringComparison.Ordinal)));
    }

    [RootFact]
    public void A_read_only_folder_is_an_environment_error_and_changes_nothing()
    {
        using var fs = new Hostile.Tmpfs("1m");
        string kpl = Path.Combine(fs.Dir, "w.kpl");
        File.WriteAllText(kpl, "namespace   ns\n");
        fs.ReadOnly();
        var before = Hostile.Tree(fs.Dir);
        var r = Compile("-o", Path.Combine(fs.Dir, "node.img"));
        Assert.Equal(2, r.Exit);
        Assert.Contains("cannot write", r.Err);
        Assert.Contains("Read-only file system", r.Err);
        r = Hostile.Run(20, "fmt", kpl);
        Assert.Equal(2, r.Exit);
        Assert.Contains("cannot write", r.Err);
        Assert.Equal(before, Hostile.Tree(fs.Dir));
    }

    [RootFact]
    public void A_full_disk_leaves_the_previous_output_and_no_temporary()
    {
        using var fs = new Hostile.Tmpfs("16k");
        string img = Path.Combine(fs.Dir, "node.img");
        File.WriteAllText(img, "previous");
        var before = Hostile.Tree(fs.Dir);
        var r = Compile("-o", img, "--text", Path.Combine(fs.Dir, "node.txt"));
        Assert.Equal(2, r.Exit);
        Assert.Contains("No space left on device", r.Err);
        Assert.Equal(before, Hostile.Tree(fs.Dir));
    }

    [RootFact]
    public void A_directory_that_cannot_be_listed_is_an_environment_error()
    {
        // Root lists anything, so the CLI runs as root without the capabilities that override file
        // permissions (it can still load itself wherever the checkout lives, which nobody may not).
        string locked = Path.Combine(_in, "locked");
        Directory.CreateDirectory(locked);
        Assert.Equal(0, Hostile.Sh($"chmod 000 '{locked}'"));
        string dll = typeof(Kmeshc.Program).Assembly.Location;
        var psi = new ProcessStartInfo("setpriv", ["--bounding-set=-dac_override,-dac_read_search", "dotnet", dll, "validate", _in])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        psi.Environment["HOME"] = "/tmp";
        psi.Environment["DOTNET_CLI_HOME"] = "/tmp";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(60_000));
        Assert.True(p.ExitCode == 2, $"exit {p.ExitCode}\n{stdout}{stderr}");
        Assert.Contains("KM9022", stdout + stderr);
        Assert.Contains("cannot list the directory", stdout + stderr);
        Assert.DoesNotContain("internal error", stderr);
        Hostile.Sh($"chmod 700 '{locked}'");
    }
}
