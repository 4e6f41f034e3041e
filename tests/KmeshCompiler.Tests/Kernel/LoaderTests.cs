using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using KmeshCompiler.Image;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>`kmeshc load`, `dump`, `unload` and the loader's checks, on a private bpffs.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class LoaderTests
{
    private static string Tmp(string name) => Path.Combine(Directory.CreateTempSubdirectory("kmesh-load").FullName, name);

    private static string Write(ImageFile image, string name)
    {
        string path = Tmp(name);
        File.WriteAllBytes(path, image.ToBytes());
        return path;
    }

    public static IEnumerable<(string Input, string Node)> GoldenImages =>
    [
        ("examples/bookinfo", "node-a"), ("examples/bookinfo", "node-b"), ("examples/bookinfo", "node-c"),
        ("golden/image/tricky/tables.kpl", "node-a"), ("golden/image/tricky/tables.kpl", "node-b"),
    ];

    [KernelFact]
    public void Dump_after_load_equals_inspect_for_every_example_and_golden_image_and_a_dry_run_then_changes_nothing()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        ulong generation = 0;
        foreach (var (input, node) in GoldenImages)
        {
            string img = Tmp($"{node}.img");
            var c = CliRunner.Run("compile", input, "--node", node, "-o", img);
            Assert.True(c.Exit == 0, c.Err);
            var load = CliRunner.Run("load", img, "--pin-dir", dir);
            Assert.True(load.Exit == 0, $"{input} {node}: {load.Err}");
            Assert.Contains($"generation {++generation} in force", load.Out);
            var dump = CliRunner.Run("dump", "--pin-dir", dir);
            Assert.True(dump.Exit == 0, dump.Err);
            var inspect = CliRunner.Run("inspect", img);
            string[] lines = dump.Out.Split('\n', 2);
            Assert.StartsWith($"# {dir}: generation {generation}", lines[0]);
            Assert.Equal(inspect.Out, lines[1]);
            var dry = CliRunner.Run("load", "--dry-run", img, "--pin-dir", dir);
            Assert.True(dry.Exit == 0, dry.Err);
            Assert.Contains("no change", dry.Out);
            var again = CliRunner.Run("load", img, "--pin-dir", dir);
            Assert.Contains("already in force", again.Out);
        }
        var json = CliRunner.Run("dump", "--pin-dir", dir, "--format", "json");
        using var doc = JsonDocument.Parse(json.Out);
        Assert.Equal((long)generation, doc.RootElement.GetProperty("generation").GetInt64());
        Assert.Equal("node-b", doc.RootElement.GetProperty("node").GetString());
    }

    [KernelFact]
    public void A_dry_run_names_the_rows_a_load_would_change_and_writes_nothing()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        string a = Write(LoaderImages.Bookinfo("node-a"), "a.img"), b = Write(LoaderImages.Bookinfo("node-b"), "b.img");
        var first = CliRunner.Run("load", "--dry-run", a, "--pin-dir", dir);
        Assert.Equal(0, first.Exit);
        Assert.Contains("nothing is loaded", first.Out);
        Assert.False(Directory.Exists(dir));
        Assert.Equal(0, CliRunner.Run("load", a, "--pin-dir", dir).Exit);
        var dry = CliRunner.Run("load", "--dry-run", b, "--pin-dir", dir);
        Assert.Equal(0, dry.Exit);
        Assert.Contains("+ 10.244.2.7 -> workload 0 bookinfo/details-v1-65cfcf56f9-4wsdj", dry.Out);
        Assert.Contains("- 10.244.1.12 -> workload 0 bookinfo/productpage-v1-7d6cfb7dfd-x2kqp", dry.Out);
        Assert.Contains("image for node node-a", CliRunner.Run("dump", "--pin-dir", dir).Out);
    }

    [Theory]
    [InlineData("attach")]
    [InlineData("detach")]
    public void Attach_and_detach_take_exactly_one_target(string command)
    {
        var none = CliRunner.Run(command);
        Assert.Equal(2, none.Exit);
        Assert.Contains("give one of --xdp IFACE or --cgroup PATH", none.Err);
        var both = CliRunner.Run(command, "--xdp", "eth0", "--cgroup", "/sys/fs/cgroup");
        Assert.Equal(2, both.Exit);
        Assert.Contains("give one of --xdp IFACE or --cgroup PATH", both.Err);
    }

    [KernelFact]
    public void Pins_are_root_only_and_unload_leaves_nothing()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        Assert.Equal(0, CliRunner.Run("load", Write(LoaderImages.Bookinfo("node-a"), "a.img"), "--pin-dir", dir).Exit);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
        var pins = Directory.GetFiles(dir);
        Assert.True(pins.Length >= 40, $"{pins.Length} pins");
        foreach (var p in pins) Assert.True(File.GetUnixFileMode(p) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), $"{p}: {File.GetUnixFileMode(p)}");
        var un = CliRunner.Run("unload", "--pin-dir", dir);
        Assert.True(un.Exit == 0, un.Err);
        Assert.False(Directory.Exists(dir));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(fs.Path), e => Path.GetFileName(e).StartsWith("kmesh", StringComparison.Ordinal));
        Assert.Contains("nothing to unload", CliRunner.Run("unload", "--pin-dir", dir).Out);
        Assert.Equal(2, CliRunner.Run("dump", "--pin-dir", dir).Exit);
    }

    [KernelFact]
    public void An_image_of_another_abi_is_refused_with_its_code_before_any_kernel_write()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        var bytes = LoaderImages.Bookinfo("node-a").ToBytes();
        bytes[16] ^= 0xff; // the ABI hash
        Convert.FromHexString(ImageFile.ContentHashOfBody(bytes.AsSpan(ImageFile.HeaderSize))).CopyTo(bytes, 48);
        string path = Tmp("other-abi.img");
        File.WriteAllBytes(path, bytes);
        var r = CliRunner.Run("load", path, "--pin-dir", dir);
        Assert.Equal(1, r.Exit);
        Assert.Contains("KM7106", r.Err);
        Assert.False(Directory.Exists(dir));
        File.WriteAllBytes(path, bytes[..100]);
        Assert.Equal(1, CliRunner.Run("load", path, "--pin-dir", dir).Exit);
        Assert.False(Directory.Exists(dir));
    }

    [KernelFact]
    public void Pinned_programs_of_another_abi_are_refused()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        string img = Write(LoaderImages.Bookinfo("node-a"), "a.img");
        Assert.Equal(0, CliRunner.Run("load", img, "--pin-dir", dir).Exit);
        using (var state = BpfMap.OpenPinned(Path.Combine(dir, Layout.MapState)))
        {
            var s = new byte[state.ValueSize];
            s[0] = 0x42;
            state.Update(new byte[4], s);
        }
        var r = CliRunner.Run("load", Write(LoaderImages.Bookinfo("node-b"), "b.img"), "--pin-dir", dir);
        Assert.Equal(2, r.Exit);
        Assert.Contains("pinned programs have table ABI 42", r.Err);
        Assert.Contains("image for node node-a", CliRunner.Run("dump", "--pin-dir", dir).Out);
    }

    [KernelFact]
    public void A_pinned_map_of_another_shape_is_a_clear_error_and_never_recreated()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        string img = Write(LoaderImages.Bookinfo("node-a"), "a.img");
        Assert.Equal(0, CliRunner.Run("load", img, "--pin-dir", dir).Exit);
        string pin = Path.Combine(dir, "km_lists_0");
        File.Delete(pin);
        using (var other = BpfMap.Create(BpfMapType.Array, "km_lists_0", 4, 4, 1024)) other.Pin(pin);
        var r = CliRunner.Run("load", Write(LoaderImages.Bookinfo("node-b"), "b.img"), "--pin-dir", dir);
        Assert.Equal(2, r.Exit);
        Assert.Contains("map km_lists_0 is Array, key 4, value 4, 1024 entries", r.Err);
        using var again = BpfMap.OpenPinned(pin);
        Assert.Equal(1024, again.MaxEntries);
        File.Delete(Path.Combine(dir, "km_scratch"));
        var missing = CliRunner.Run("dump", "--pin-dir", dir);
        Assert.Equal(2, missing.Exit);
        Assert.Contains("km_scratch is missing", missing.Err);
    }

    [KernelFact]
    public void A_second_loader_waits_for_the_first_or_fails_cleanly()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        string a = Write(LoaderImages.Bookinfo("node-a"), "a.img"), b = Write(LoaderImages.Bookinfo("node-b"), "b.img");
        Assert.Equal(0, CliRunner.Run("load", a, "--pin-dir", dir).Exit);
        var held = NodeLoader.Open(dir, TimeSpan.Zero, create: false);
        var busy = KmeshcProcess.Run(null, "load", b, "--pin-dir", dir, "--wait", "0");
        Assert.Equal(2, busy.Exit);
        Assert.Contains("another loader holds", busy.Err);
        using var waiting = KmeshcProcess.Start(null, "load", b, "--pin-dir", dir, "--wait", "60");
        Thread.Sleep(1500);
        Assert.False(waiting.HasExited);
        held.Dispose();
        Assert.True(waiting.WaitForExit(60_000));
        Assert.True(waiting.ExitCode == 0, waiting.StandardError.ReadToEnd());
        // Two at once: both succeed one after the other, and the pins hold one of the two images.
        using var p1 = KmeshcProcess.Start(null, "load", a, "--pin-dir", dir, "--wait", "60");
        using var p2 = KmeshcProcess.Start(null, "load", b, "--pin-dir", dir, "--wait", "60");
        Assert.True(p1.WaitForExit(60_000) && p2.WaitForExit(60_000));
        Assert.Equal((0, 0), (p1.ExitCode, p2.ExitCode));
        var dump = CliRunner.Run("dump", "--pin-dir", dir);
        Assert.Equal(0, dump.Exit);
        Assert.Matches("image for node node-[ab]", dump.Out);
    }

    [KernelFact]
    public void Counters_survive_swaps_and_restarts_and_follow_the_policy_when_its_id_changes()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        var a = LoaderImages.Bookinfo("node-a");
        var b = LoaderImages.Bookinfo("node-b");
        var client = IPAddress.Parse("203.0.113.9"); // in istio-system/deny-blocked-ranges
        var productpage = IPAddress.Parse("10.244.1.12");
        var details = IPAddress.Parse("10.244.2.7");
        using (var loader = NodeLoader.Open(dir, TimeSpan.Zero, create: true))
        {
            loader.Load(a);
            var plane = new DataPlane(loader.Objects);
            for (int i = 0; i < 3; i++) Assert.Equal(XdpAction.Drop, plane.Run(Packets.Syn(client, productpage, 9080)).XdpAction);
        }
        Assert.Equal(3UL, Counter(dir, "istio-system/deny-blocked-ranges").Denied);
        // Another image: other policy ids, the same policy name.
        using (var loader = NodeLoader.Open(dir, TimeSpan.Zero, create: false))
        {
            loader.Load(b);
            var plane = new DataPlane(loader.Objects);
            for (int i = 0; i < 2; i++) Assert.Equal(XdpAction.Drop, plane.Run(Packets.Syn(client, details, 9080)).XdpAction);
        }
        var c = Counter(dir, "istio-system/deny-blocked-ranges");
        Assert.Equal((5UL, true), (c.Denied, c.InForce));
        var r = CliRunner.Run("counters", "--pin-dir", dir, "--format", "json");
        Assert.True(r.Exit == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var row = doc.RootElement.GetProperty("policies").EnumerateArray().Single(p => p.GetProperty("policy").GetString() == "istio-system/deny-blocked-ranges");
        Assert.Equal(5, row.GetProperty("denied").GetInt32());
        Assert.Equal(5, doc.RootElement.GetProperty("verdicts").GetProperty("explicitlyDenied").GetInt32());
    }

    private static PolicyCounter Counter(string dir, string policy)
    {
        using var objects = NodeObjects.OpenPinned(dir);
        return NodeCounters.Read(objects).Policies.Single(p => p.Policy == policy);
    }

    [KernelFact]
    public void Attach_pins_a_link_that_outlives_the_loader_and_attaching_again_updates_it_in_place()
    {
        using var fs = new BpfFs();
        using var veth = new VethPair();
        string dir = fs["kmesh"];
        Assert.Equal(0, CliRunner.Run("load", Write(LoaderImages.Bookinfo("node-a"), "a.img"), "--pin-dir", dir).Exit);
        // The loader runs inside B's namespace, where the interface is.
        T InB<T>(Func<NodeLoader, T> f) => veth.B.Run(() =>
        {
            using var loader = NodeLoader.Open(dir, TimeSpan.Zero, create: false);
            return f(loader);
        });
        string link = InB(l => l.AttachXdp(veth.IfB, XdpMode.Generic));
        Assert.True(File.Exists(link));
        Assert.Contains("xdp", KernelEnvironment.Run("ip", "-n", veth.B.Name, "link", "show", veth.IfB));
        string again = InB(l => l.AttachXdp(veth.IfB, XdpMode.Generic));
        Assert.Equal(link, again);
        Assert.Contains("xdp", KernelEnvironment.Run("ip", "-n", veth.B.Name, "link", "show", veth.IfB));
        bool detached = InB(l => l.Detach(veth.IfB, null));
        Assert.True(detached);
        Assert.DoesNotContain("xdp", KernelEnvironment.Run("ip", "-n", veth.B.Name, "link", "show", veth.IfB));
        Assert.False(File.Exists(link));
        // Unload detaches whatever is still attached.
        InB(l => l.AttachXdp(veth.IfB, XdpMode.Generic));
        Assert.Equal(0, CliRunner.Run("unload", "--pin-dir", dir).Exit);
        Assert.DoesNotContain("xdp", KernelEnvironment.Run("ip", "-n", veth.B.Name, "link", "show", veth.IfB));
    }
}
