/* tgc.runtime._fastcall: one call of a compiled function, from numpy arrays in to numpy arrays out.
 *
 * The C side of tgc/runtime/executable.py, used when this module is built (the pure-Python path stays
 * for machines without a compiler). It does what Executable.__call__ does in Python, without the
 * Python-level objects that path touches: it writes each input's memref descriptor (allocated, aligned,
 * offset, sizes, row-major strides) into the caller's descriptor buffer, calls the function with the
 * GIL released (partitions on other threads and the rendezvous callbacks need it), and wraps each
 * malloc'ed result as a numpy array whose base frees the block. With the caches cold, as between the
 * steps of different libraries, the Python path spent about 66 us packing descriptors and 60 us
 * wrapping results on a tiny graph; here both are a few dozen loads and stores.
 *
 * call(plan, arrays) returns the list of results, or None when an input needs the Python path (not an
 * ndarray of the exact dtype, not row-major, read-only where the function may write, wrong count);
 * that path then converts it, or raises the error. plan is built once per Executable:
 *   (function address,
 *    ((dtype, rank, word offset, written), ...) per input,
 *    ((dtype, rank, word offset, in-place input index or -1), ...) per output)
 * The descriptors live on this call's stack, not in the Executable, so two threads may run the same
 * compiled function at once (two Session.run calls of one plan).
 * The output rules are the Python path's: a result that is the constant-global sentinel, an input's
 * buffer, or a buffer already handed out is copied; one updated in place is the input array itself.
 * A run-time check that fails in the compiled code (shapes that do not broadcast, an allocation that
 * failed) unwinds to this call, which raises Failure(kind, message, values) for executable.py to turn
 * into TensorFlow's error; call_packed does the same for the Python path's calls, and call_unpacked for
 * an artifact's entry point (tgc/runtime/artifact.py), whose arguments are unpacked pointers.
 * call_unpacked_plan(plan, arrays) is call for such an entry point: the artifact's whole call (pack, call,
 * wrap the results without a copy) in one C call, as a Session's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GLOBAL_SENTINEL 0xDEADBEEF /* MLIR's "allocated" pointer for memrefs of constant globals */
#define MAX_ARGS 256
#define MAX_WORDS 4096 /* descriptor words per direction: 3 + 2 * rank per argument */

typedef void (*entry_fn)(void **);

/* Run-time errors of compiled code (tgc/lowering/runtime_errors.py): a failed check calls the handler
 * whose address the runtime stored in the module's tgc_error_handler global. The handler records the
 * error in this thread's state and unwinds with longjmp to the call below that entered the compiled
 * code, which raises Failure(kind, message, values). Compiled code holds no locks and no C++ frames,
 * so nothing is left half-done but the buffers it had allocated, which leak. */
#define MAX_ERROR_VALUES 256
#define MAX_ERROR_MESSAGE 4096

typedef struct {
    jmp_buf *jump; /* the innermost guarded call of this thread, or NULL */
    int pending;   /* an error recorded outside a guarded call, for take_error */
    int64_t kind;
    int64_t count;
    int64_t values[MAX_ERROR_VALUES];
    char message[MAX_ERROR_MESSAGE];
} error_state;

static _Thread_local error_state thread_error;
static PyObject *Failure;

static void runtime_error(int64_t kind, const char *message, const int64_t *values, int64_t count) {
    thread_error.kind = kind;
    thread_error.count = count < 0 ? 0 : (count > MAX_ERROR_VALUES ? MAX_ERROR_VALUES : count);
    if (values != NULL)
        memcpy(thread_error.values, values, (size_t)thread_error.count * sizeof(int64_t));
    thread_error.message[0] = 0;
    if (message != NULL)
        strncat(thread_error.message, message, MAX_ERROR_MESSAGE - 1);
    if (thread_error.jump != NULL)
        longjmp(*thread_error.jump, 1);
    thread_error.pending = 1; /* a caller without the guard (an artifact's entry point) asks take_error */
}

/* An artifact's entry point takes its arguments unpacked: ``void f(void *results, void *arg0, ...)``,
 * each a MemRef* (tgc/runtime/artifact.py). C cannot build a call of a count known only at run time, so
 * each count up to MAX_UNPACKED_ARGS has its own call through a pointer of exactly that type:
 * ARGS_n(X) lists X(0), ..., X(n - 1), spelled once as the parameter types and once as the arguments. */
#define MAX_UNPACKED_ARGS 256
#define PACKED (-1) /* the count that says: fn takes the packed arguments (one void **) */
#define VOID_POINTER(i) void *
#define ARGUMENT(i) args[i]
#define ARGS_1(X) X(0)
#define ARGS_2(X) ARGS_1(X), X(1)
#define ARGS_3(X) ARGS_2(X), X(2)
#define ARGS_4(X) ARGS_3(X), X(3)
#define ARGS_5(X) ARGS_4(X), X(4)
#define ARGS_6(X) ARGS_5(X), X(5)
#define ARGS_7(X) ARGS_6(X), X(6)
#define ARGS_8(X) ARGS_7(X), X(7)
#define ARGS_9(X) ARGS_8(X), X(8)
#define ARGS_10(X) ARGS_9(X), X(9)
#define ARGS_11(X) ARGS_10(X), X(10)
#define ARGS_12(X) ARGS_11(X), X(11)
#define ARGS_13(X) ARGS_12(X), X(12)
#define ARGS_14(X) ARGS_13(X), X(13)
#define ARGS_15(X) ARGS_14(X), X(14)
#define ARGS_16(X) ARGS_15(X), X(15)
#define ARGS_17(X) ARGS_16(X), X(16)
#define ARGS_18(X) ARGS_17(X), X(17)
#define ARGS_19(X) ARGS_18(X), X(18)
#define ARGS_20(X) ARGS_19(X), X(19)
#define ARGS_21(X) ARGS_20(X), X(20)
#define ARGS_22(X) ARGS_21(X), X(21)
#define ARGS_23(X) ARGS_22(X), X(22)
#define ARGS_24(X) ARGS_23(X), X(23)
#define ARGS_25(X) ARGS_24(X), X(24)
#define ARGS_26(X) ARGS_25(X), X(25)
#define ARGS_27(X) ARGS_26(X), X(26)
#define ARGS_28(X) ARGS_27(X), X(27)
#define ARGS_29(X) ARGS_28(X), X(28)
#define ARGS_30(X) ARGS_29(X), X(29)
#define ARGS_31(X) ARGS_30(X), X(30)
#define ARGS_32(X) ARGS_31(X), X(31)
#define ARGS_33(X) ARGS_32(X), X(32)
#define ARGS_34(X) ARGS_33(X), X(33)
#define ARGS_35(X) ARGS_34(X), X(34)
#define ARGS_36(X) ARGS_35(X), X(35)
#define ARGS_37(X) ARGS_36(X), X(36)
#define ARGS_38(X) ARGS_37(X), X(37)
#define ARGS_39(X) ARGS_38(X), X(38)
#define ARGS_40(X) ARGS_39(X), X(39)
#define ARGS_41(X) ARGS_40(X), X(40)
#define ARGS_42(X) ARGS_41(X), X(41)
#define ARGS_43(X) ARGS_42(X), X(42)
#define ARGS_44(X) ARGS_43(X), X(43)
#define ARGS_45(X) ARGS_44(X), X(44)
#define ARGS_46(X) ARGS_45(X), X(45)
#define ARGS_47(X) ARGS_46(X), X(46)
#define ARGS_48(X) ARGS_47(X), X(47)
#define ARGS_49(X) ARGS_48(X), X(48)
#define ARGS_50(X) ARGS_49(X), X(49)
#define ARGS_51(X) ARGS_50(X), X(50)
#define ARGS_52(X) ARGS_51(X), X(51)
#define ARGS_53(X) ARGS_52(X), X(52)
#define ARGS_54(X) ARGS_53(X), X(53)
#define ARGS_55(X) ARGS_54(X), X(54)
#define ARGS_56(X) ARGS_55(X), X(55)
#define ARGS_57(X) ARGS_56(X), X(56)
#define ARGS_58(X) ARGS_57(X), X(57)
#define ARGS_59(X) ARGS_58(X), X(58)
#define ARGS_60(X) ARGS_59(X), X(59)
#define ARGS_61(X) ARGS_60(X), X(60)
#define ARGS_62(X) ARGS_61(X), X(61)
#define ARGS_63(X) ARGS_62(X), X(62)
#define ARGS_64(X) ARGS_63(X), X(63)
#define ARGS_65(X) ARGS_64(X), X(64)
#define ARGS_66(X) ARGS_65(X), X(65)
#define ARGS_67(X) ARGS_66(X), X(66)
#define ARGS_68(X) ARGS_67(X), X(67)
#define ARGS_69(X) ARGS_68(X), X(68)
#define ARGS_70(X) ARGS_69(X), X(69)
#define ARGS_71(X) ARGS_70(X), X(70)
#define ARGS_72(X) ARGS_71(X), X(71)
#define ARGS_73(X) ARGS_72(X), X(72)
#define ARGS_74(X) ARGS_73(X), X(73)
#define ARGS_75(X) ARGS_74(X), X(74)
#define ARGS_76(X) ARGS_75(X), X(75)
#define ARGS_77(X) ARGS_76(X), X(76)
#define ARGS_78(X) ARGS_77(X), X(77)
#define ARGS_79(X) ARGS_78(X), X(78)
#define ARGS_80(X) ARGS_79(X), X(79)
#define ARGS_81(X) ARGS_80(X), X(80)
#define ARGS_82(X) ARGS_81(X), X(81)
#define ARGS_83(X) ARGS_82(X), X(82)
#define ARGS_84(X) ARGS_83(X), X(83)
#define ARGS_85(X) ARGS_84(X), X(84)
#define ARGS_86(X) ARGS_85(X), X(85)
#define ARGS_87(X) ARGS_86(X), X(86)
#define ARGS_88(X) ARGS_87(X), X(87)
#define ARGS_89(X) ARGS_88(X), X(88)
#define ARGS_90(X) ARGS_89(X), X(89)
#define ARGS_91(X) ARGS_90(X), X(90)
#define ARGS_92(X) ARGS_91(X), X(91)
#define ARGS_93(X) ARGS_92(X), X(92)
#define ARGS_94(X) ARGS_93(X), X(93)
#define ARGS_95(X) ARGS_94(X), X(94)
#define ARGS_96(X) ARGS_95(X), X(95)
#define ARGS_97(X) ARGS_96(X), X(96)
#define ARGS_98(X) ARGS_97(X), X(97)
#define ARGS_99(X) ARGS_98(X), X(98)
#define ARGS_100(X) ARGS_99(X), X(99)
#define ARGS_101(X) ARGS_100(X), X(100)
#define ARGS_102(X) ARGS_101(X), X(101)
#define ARGS_103(X) ARGS_102(X), X(102)
#define ARGS_104(X) ARGS_103(X), X(103)
#define ARGS_105(X) ARGS_104(X), X(104)
#define ARGS_106(X) ARGS_105(X), X(105)
#define ARGS_107(X) ARGS_106(X), X(106)
#define ARGS_108(X) ARGS_107(X), X(107)
#define ARGS_109(X) ARGS_108(X), X(108)
#define ARGS_110(X) ARGS_109(X), X(109)
#define ARGS_111(X) ARGS_110(X), X(110)
#define ARGS_112(X) ARGS_111(X), X(111)
#define ARGS_113(X) ARGS_112(X), X(112)
#define ARGS_114(X) ARGS_113(X), X(113)
#define ARGS_115(X) ARGS_114(X), X(114)
#define ARGS_116(X) ARGS_115(X), X(115)
#define ARGS_117(X) ARGS_116(X), X(116)
#define ARGS_118(X) ARGS_117(X), X(117)
#define ARGS_119(X) ARGS_118(X), X(118)
#define ARGS_120(X) ARGS_119(X), X(119)
#define ARGS_121(X) ARGS_120(X), X(120)
#define ARGS_122(X) ARGS_121(X), X(121)
#define ARGS_123(X) ARGS_122(X), X(122)
#define ARGS_124(X) ARGS_123(X), X(123)
#define ARGS_125(X) ARGS_124(X), X(124)
#define ARGS_126(X) ARGS_125(X), X(125)
#define ARGS_127(X) ARGS_126(X), X(126)
#define ARGS_128(X) ARGS_127(X), X(127)
#define ARGS_129(X) ARGS_128(X), X(128)
#define ARGS_130(X) ARGS_129(X), X(129)
#define ARGS_131(X) ARGS_130(X), X(130)
#define ARGS_132(X) ARGS_131(X), X(131)
#define ARGS_133(X) ARGS_132(X), X(132)
#define ARGS_134(X) ARGS_133(X), X(133)
#define ARGS_135(X) ARGS_134(X), X(134)
#define ARGS_136(X) ARGS_135(X), X(135)
#define ARGS_137(X) ARGS_136(X), X(136)
#define ARGS_138(X) ARGS_137(X), X(137)
#define ARGS_139(X) ARGS_138(X), X(138)
#define ARGS_140(X) ARGS_139(X), X(139)
#define ARGS_141(X) ARGS_140(X), X(140)
#define ARGS_142(X) ARGS_141(X), X(141)
#define ARGS_143(X) ARGS_142(X), X(142)
#define ARGS_144(X) ARGS_143(X), X(143)
#define ARGS_145(X) ARGS_144(X), X(144)
#define ARGS_146(X) ARGS_145(X), X(145)
#define ARGS_147(X) ARGS_146(X), X(146)
#define ARGS_148(X) ARGS_147(X), X(147)
#define ARGS_149(X) ARGS_148(X), X(148)
#define ARGS_150(X) ARGS_149(X), X(149)
#define ARGS_151(X) ARGS_150(X), X(150)
#define ARGS_152(X) ARGS_151(X), X(151)
#define ARGS_153(X) ARGS_152(X), X(152)
#define ARGS_154(X) ARGS_153(X), X(153)
#define ARGS_155(X) ARGS_154(X), X(154)
#define ARGS_156(X) ARGS_155(X), X(155)
#define ARGS_157(X) ARGS_156(X), X(156)
#define ARGS_158(X) ARGS_157(X), X(157)
#define ARGS_159(X) ARGS_158(X), X(158)
#define ARGS_160(X) ARGS_159(X), X(159)
#define ARGS_161(X) ARGS_160(X), X(160)
#define ARGS_162(X) ARGS_161(X), X(161)
#define ARGS_163(X) ARGS_162(X), X(162)
#define ARGS_164(X) ARGS_163(X), X(163)
#define ARGS_165(X) ARGS_164(X), X(164)
#define ARGS_166(X) ARGS_165(X), X(165)
#define ARGS_167(X) ARGS_166(X), X(166)
#define ARGS_168(X) ARGS_167(X), X(167)
#define ARGS_169(X) ARGS_168(X), X(168)
#define ARGS_170(X) ARGS_169(X), X(169)
#define ARGS_171(X) ARGS_170(X), X(170)
#define ARGS_172(X) ARGS_171(X), X(171)
#define ARGS_173(X) ARGS_172(X), X(172)
#define ARGS_174(X) ARGS_173(X), X(173)
#define ARGS_175(X) ARGS_174(X), X(174)
#define ARGS_176(X) ARGS_175(X), X(175)
#define ARGS_177(X) ARGS_176(X), X(176)
#define ARGS_178(X) ARGS_177(X), X(177)
#define ARGS_179(X) ARGS_178(X), X(178)
#define ARGS_180(X) ARGS_179(X), X(179)
#define ARGS_181(X) ARGS_180(X), X(180)
#define ARGS_182(X) ARGS_181(X), X(181)
#define ARGS_183(X) ARGS_182(X), X(182)
#define ARGS_184(X) ARGS_183(X), X(183)
#define ARGS_185(X) ARGS_184(X), X(184)
#define ARGS_186(X) ARGS_185(X), X(185)
#define ARGS_187(X) ARGS_186(X), X(186)
#define ARGS_188(X) ARGS_187(X), X(187)
#define ARGS_189(X) ARGS_188(X), X(188)
#define ARGS_190(X) ARGS_189(X), X(189)
#define ARGS_191(X) ARGS_190(X), X(190)
#define ARGS_192(X) ARGS_191(X), X(191)
#define ARGS_193(X) ARGS_192(X), X(192)
#define ARGS_194(X) ARGS_193(X), X(193)
#define ARGS_195(X) ARGS_194(X), X(194)
#define ARGS_196(X) ARGS_195(X), X(195)
#define ARGS_197(X) ARGS_196(X), X(196)
#define ARGS_198(X) ARGS_197(X), X(197)
#define ARGS_199(X) ARGS_198(X), X(198)
#define ARGS_200(X) ARGS_199(X), X(199)
#define ARGS_201(X) ARGS_200(X), X(200)
#define ARGS_202(X) ARGS_201(X), X(201)
#define ARGS_203(X) ARGS_202(X), X(202)
#define ARGS_204(X) ARGS_203(X), X(203)
#define ARGS_205(X) ARGS_204(X), X(204)
#define ARGS_206(X) ARGS_205(X), X(205)
#define ARGS_207(X) ARGS_206(X), X(206)
#define ARGS_208(X) ARGS_207(X), X(207)
#define ARGS_209(X) ARGS_208(X), X(208)
#define ARGS_210(X) ARGS_209(X), X(209)
#define ARGS_211(X) ARGS_210(X), X(210)
#define ARGS_212(X) ARGS_211(X), X(211)
#define ARGS_213(X) ARGS_212(X), X(212)
#define ARGS_214(X) ARGS_213(X), X(213)
#define ARGS_215(X) ARGS_214(X), X(214)
#define ARGS_216(X) ARGS_215(X), X(215)
#define ARGS_217(X) ARGS_216(X), X(216)
#define ARGS_218(X) ARGS_217(X), X(217)
#define ARGS_219(X) ARGS_218(X), X(218)
#define ARGS_220(X) ARGS_219(X), X(219)
#define ARGS_221(X) ARGS_220(X), X(220)
#define ARGS_222(X) ARGS_221(X), X(221)
#define ARGS_223(X) ARGS_222(X), X(222)
#define ARGS_224(X) ARGS_223(X), X(223)
#define ARGS_225(X) ARGS_224(X), X(224)
#define ARGS_226(X) ARGS_225(X), X(225)
#define ARGS_227(X) ARGS_226(X), X(226)
#define ARGS_228(X) ARGS_227(X), X(227)
#define ARGS_229(X) ARGS_228(X), X(228)
#define ARGS_230(X) ARGS_229(X), X(229)
#define ARGS_231(X) ARGS_230(X), X(230)
#define ARGS_232(X) ARGS_231(X), X(231)
#define ARGS_233(X) ARGS_232(X), X(232)
#define ARGS_234(X) ARGS_233(X), X(233)
#define ARGS_235(X) ARGS_234(X), X(234)
#define ARGS_236(X) ARGS_235(X), X(235)
#define ARGS_237(X) ARGS_236(X), X(236)
#define ARGS_238(X) ARGS_237(X), X(237)
#define ARGS_239(X) ARGS_238(X), X(238)
#define ARGS_240(X) ARGS_239(X), X(239)
#define ARGS_241(X) ARGS_240(X), X(240)
#define ARGS_242(X) ARGS_241(X), X(241)
#define ARGS_243(X) ARGS_242(X), X(242)
#define ARGS_244(X) ARGS_243(X), X(243)
#define ARGS_245(X) ARGS_244(X), X(244)
#define ARGS_246(X) ARGS_245(X), X(245)
#define ARGS_247(X) ARGS_246(X), X(246)
#define ARGS_248(X) ARGS_247(X), X(247)
#define ARGS_249(X) ARGS_248(X), X(248)
#define ARGS_250(X) ARGS_249(X), X(249)
#define ARGS_251(X) ARGS_250(X), X(250)
#define ARGS_252(X) ARGS_251(X), X(251)
#define ARGS_253(X) ARGS_252(X), X(252)
#define ARGS_254(X) ARGS_253(X), X(253)
#define ARGS_255(X) ARGS_254(X), X(254)
#define ARGS_256(X) ARGS_255(X), X(255)
#define CALL(n)                                                                                                \
    case n:                                                                                                    \
        ((void (*)(ARGS_##n(VOID_POINTER)))fn)(ARGS_##n(ARGUMENT));                                            \
        return;

static void call_entry(void *fn, void **args, Py_ssize_t count) {
    switch (count) {
    case PACKED:
        ((entry_fn)fn)(args);
        return;
    case 0:
        ((void (*)(void))fn)();
        return;
       CALL(1) CALL(2) CALL(3) CALL(4) CALL(5) CALL(6) CALL(7) CALL(8)
       CALL(9) CALL(10) CALL(11) CALL(12) CALL(13) CALL(14) CALL(15) CALL(16)
       CALL(17) CALL(18) CALL(19) CALL(20) CALL(21) CALL(22) CALL(23) CALL(24)
       CALL(25) CALL(26) CALL(27) CALL(28) CALL(29) CALL(30) CALL(31) CALL(32)
       CALL(33) CALL(34) CALL(35) CALL(36) CALL(37) CALL(38) CALL(39) CALL(40)
       CALL(41) CALL(42) CALL(43) CALL(44) CALL(45) CALL(46) CALL(47) CALL(48)
       CALL(49) CALL(50) CALL(51) CALL(52) CALL(53) CALL(54) CALL(55) CALL(56)
       CALL(57) CALL(58) CALL(59) CALL(60) CALL(61) CALL(62) CALL(63) CALL(64)
       CALL(65) CALL(66) CALL(67) CALL(68) CALL(69) CALL(70) CALL(71) CALL(72)
       CALL(73) CALL(74) CALL(75) CALL(76) CALL(77) CALL(78) CALL(79) CALL(80)
       CALL(81) CALL(82) CALL(83) CALL(84) CALL(85) CALL(86) CALL(87) CALL(88)
       CALL(89) CALL(90) CALL(91) CALL(92) CALL(93) CALL(94) CALL(95) CALL(96)
       CALL(97) CALL(98) CALL(99) CALL(100) CALL(101) CALL(102) CALL(103) CALL(104)
       CALL(105) CALL(106) CALL(107) CALL(108) CALL(109) CALL(110) CALL(111) CALL(112)
       CALL(113) CALL(114) CALL(115) CALL(116) CALL(117) CALL(118) CALL(119) CALL(120)
       CALL(121) CALL(122) CALL(123) CALL(124) CALL(125) CALL(126) CALL(127) CALL(128)
       CALL(129) CALL(130) CALL(131) CALL(132) CALL(133) CALL(134) CALL(135) CALL(136)
       CALL(137) CALL(138) CALL(139) CALL(140) CALL(141) CALL(142) CALL(143) CALL(144)
       CALL(145) CALL(146) CALL(147) CALL(148) CALL(149) CALL(150) CALL(151) CALL(152)
       CALL(153) CALL(154) CALL(155) CALL(156) CALL(157) CALL(158) CALL(159) CALL(160)
       CALL(161) CALL(162) CALL(163) CALL(164) CALL(165) CALL(166) CALL(167) CALL(168)
       CALL(169) CALL(170) CALL(171) CALL(172) CALL(173) CALL(174) CALL(175) CALL(176)
       CALL(177) CALL(178) CALL(179) CALL(180) CALL(181) CALL(182) CALL(183) CALL(184)
       CALL(185) CALL(186) CALL(187) CALL(188) CALL(189) CALL(190) CALL(191) CALL(192)
       CALL(193) CALL(194) CALL(195) CALL(196) CALL(197) CALL(198) CALL(199) CALL(200)
       CALL(201) CALL(202) CALL(203) CALL(204) CALL(205) CALL(206) CALL(207) CALL(208)
       CALL(209) CALL(210) CALL(211) CALL(212) CALL(213) CALL(214) CALL(215) CALL(216)
       CALL(217) CALL(218) CALL(219) CALL(220) CALL(221) CALL(222) CALL(223) CALL(224)
       CALL(225) CALL(226) CALL(227) CALL(228) CALL(229) CALL(230) CALL(231) CALL(232)
       CALL(233) CALL(234) CALL(235) CALL(236) CALL(237) CALL(238) CALL(239) CALL(240)
       CALL(241) CALL(242) CALL(243) CALL(244) CALL(245) CALL(246) CALL(247) CALL(248)
       CALL(249) CALL(250) CALL(251) CALL(252) CALL(253) CALL(254) CALL(255) CALL(256)
    }
}
#undef CALL

/* Calls fn with the GIL released, its arguments packed (count PACKED) or ``count`` unpacked ones; 0 when
 * it returned, 1 when a check failed (then thread_error holds the error). */
static int guarded_call(void *fn, void **args, Py_ssize_t count) {
    jmp_buf jump;
    jmp_buf *outer = thread_error.jump;
    volatile int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    if (setjmp(jump) == 0) {
        thread_error.jump = &jump;
        call_entry(fn, args, count);
    } else {
        failed = 1;
    }
    thread_error.jump = outer;
    Py_END_ALLOW_THREADS
    return failed;
}

static PyObject *raise_failure(void) {
    PyObject *values = PyTuple_New(thread_error.count);
    if (values == NULL)
        return NULL;
    for (int64_t i = 0; i < thread_error.count; i++)
        PyTuple_SET_ITEM(values, i, PyLong_FromLongLong(thread_error.values[i]));
    PyObject *args = Py_BuildValue("(LsN)", (long long)thread_error.kind, thread_error.message, values);
    if (args != NULL) {
        PyErr_SetObject(Failure, args);
        Py_DECREF(args);
    }
    return NULL;
}

static void free_block(PyObject *capsule) {
    free(PyCapsule_GetPointer(capsule, "tgc.block"));
}

/* A numpy array over memory the compiled code malloc'ed: freed when the array goes away. */
static PyObject *owned_array(PyArray_Descr *dtype, int rank, npy_intp *dims, char *data, void *block) {
    Py_INCREF(dtype);
    PyObject *array = PyArray_NewFromDescr(&PyArray_Type, dtype, rank, dims, NULL, data, NPY_ARRAY_CARRAY, NULL);
    if (array == NULL)
        return NULL;
    PyObject *capsule = PyCapsule_New(block, "tgc.block", free_block);
    if (capsule == NULL || PyArray_SetBaseObject((PyArrayObject *)array, capsule) < 0) {
        Py_XDECREF(capsule); /* the block stays allocated: better a leak than a double free */
        Py_DECREF(array);
        return NULL;
    }
    return array;
}

/* A copy of memory that is not ours to keep (a constant global, a caller's array, a shared block). */
static PyObject *copied_array(PyArray_Descr *dtype, int rank, npy_intp *dims, npy_intp *byte_strides, char *data) {
    for (int d = 0; d < rank; d++)
        if (dims[d] == 0)
            return PyArray_Zeros(rank, dims, (Py_INCREF(dtype), dtype), 0);
    Py_INCREF(dtype);
    PyObject *view = PyArray_NewFromDescr(&PyArray_Type, dtype, rank, dims, byte_strides, data, 0, NULL);
    if (view == NULL)
        return NULL;
    PyObject *copy = PyArray_NewCopy((PyArrayObject *)view, NPY_CORDER);
    Py_DECREF(view);
    return copy;
}

static int pack_inputs(PyObject *specs, PyObject *arrays, int64_t *words, int64_t *pointers) {
    Py_ssize_t n = PyTuple_GET_SIZE(specs);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *spec = PyTuple_GET_ITEM(specs, i);
        PyObject *item = PyTuple_GET_ITEM(arrays, i);
        if (Py_TYPE(item) != &PyArray_Type)
            return 0;
        PyArrayObject *a = (PyArrayObject *)item;
        PyArray_Descr *want = (PyArray_Descr *)PyTuple_GET_ITEM(spec, 0);
        int rank = (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 1));
        Py_ssize_t offset = PyLong_AsSsize_t(PyTuple_GET_ITEM(spec, 2));
        int written = PyObject_IsTrue(PyTuple_GET_ITEM(spec, 3));
        if (PyArray_NDIM(a) != rank || !PyArray_EquivTypes(PyArray_DESCR(a), want) ||
            !PyArray_IS_C_CONTIGUOUS(a) || (written && !PyArray_ISWRITEABLE(a)))
            return 0;
        int64_t address = (int64_t)(intptr_t)PyArray_DATA(a);
        int64_t *w = words + offset;
        npy_intp *dims = PyArray_DIMS(a);
        int64_t stride = 1;
        w[0] = address;
        w[1] = address;
        w[2] = 0;
        for (int d = rank - 1; d >= 0; d--) {
            w[3 + d] = dims[d];
            w[3 + rank + d] = stride;
            stride *= dims[d];
        }
        pointers[i] = address;
    }
    return 1;
}

static int seen(const int64_t *list, Py_ssize_t n, int64_t value) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (list[i] == value)
            return 1;
    return 0;
}

static PyObject *collect_outputs(PyObject *specs, PyObject *arrays, const int64_t *words, const int64_t *pointers,
                                 Py_ssize_t num_inputs) {
    Py_ssize_t n = PyTuple_GET_SIZE(specs);
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    int64_t owners[MAX_ARGS];
    Py_ssize_t num_owners = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *spec = PyTuple_GET_ITEM(specs, i);
        PyArray_Descr *dtype = (PyArray_Descr *)PyTuple_GET_ITEM(spec, 0);
        int rank = (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 1));
        const int64_t *w = words + PyLong_AsSsize_t(PyTuple_GET_ITEM(spec, 2));
        Py_ssize_t source = PyLong_AsSsize_t(PyTuple_GET_ITEM(spec, 3));
        int64_t allocated = w[0];
        char *address = (char *)(intptr_t)(w[1] + w[2] * (int64_t)PyDataType_ELSIZE(dtype));
        npy_intp dims[NPY_MAXDIMS], byte_strides[NPY_MAXDIMS];
        for (int d = 0; d < rank; d++) {
            dims[d] = (npy_intp)w[3 + d];
            byte_strides[d] = (npy_intp)(w[3 + rank + d] * (int64_t)PyDataType_ELSIZE(dtype));
        }
        PyObject *array;
        if (source >= 0 && allocated == pointers[source] && (int64_t)(intptr_t)address == allocated &&
            !seen(owners, num_owners, allocated)) {
            owners[num_owners++] = allocated; /* updated in place: the caller's array is the result */
            array = PyTuple_GET_ITEM(arrays, source);
            Py_INCREF(array);
        } else if (allocated == GLOBAL_SENTINEL || allocated == 0 || seen(pointers, num_inputs, allocated) ||
                   seen(owners, num_owners, allocated)) {
            array = copied_array(dtype, rank, dims, byte_strides, address);
        } else {
            owners[num_owners++] = allocated;
            int empty = 0;
            for (int d = 0; d < rank; d++)
                empty |= dims[d] == 0;
            if (empty) {
                free((void *)(intptr_t)allocated);
                array = PyArray_Zeros(rank, dims, (Py_INCREF(dtype), dtype), 0);
            } else {
                array = owned_array(dtype, rank, dims, address, (void *)(intptr_t)allocated);
            }
        }
        if (array == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, array);
    }
    return out;
}

/* Words the descriptors of ``specs`` take (the last one's offset plus its size), or -1 past MAX_WORDS. */
static Py_ssize_t descriptor_words(PyObject *specs) {
    Py_ssize_t n = PyTuple_GET_SIZE(specs);
    if (n == 0)
        return 0;
    PyObject *last = PyTuple_GET_ITEM(specs, n - 1);
    Py_ssize_t words = PyLong_AsSsize_t(PyTuple_GET_ITEM(last, 2)) + 3 + 2 * PyLong_AsSsize_t(PyTuple_GET_ITEM(last, 1));
    return words > MAX_WORDS ? -1 : words;
}

/* call and call_unpacked_plan: pack the inputs, call fn (its arguments packed, or ``unpacked`` as one
 * MemRef* each, results' struct first), wrap the results. */
static PyObject *call_with_plan(PyObject *args, int unpacked) {
    PyObject *plan, *arrays;
    if (!PyArg_ParseTuple(args, "O!O!", &PyTuple_Type, &plan, &PyTuple_Type, &arrays))
        return NULL;
    entry_fn fn = (entry_fn)PyLong_AsVoidPtr(PyTuple_GET_ITEM(plan, 0));
    PyObject *in_specs = PyTuple_GET_ITEM(plan, 1), *out_specs = PyTuple_GET_ITEM(plan, 2);
    Py_ssize_t num_inputs = PyTuple_GET_SIZE(in_specs), num_outputs = PyTuple_GET_SIZE(out_specs);
    Py_ssize_t in_size = descriptor_words(in_specs), out_size = descriptor_words(out_specs);
    if (PyErr_Occurred())
        return NULL;
    if (PyTuple_GET_SIZE(arrays) != num_inputs || num_inputs > MAX_ARGS || num_outputs > MAX_ARGS || in_size < 0 ||
        out_size < 0)
        Py_RETURN_NONE;
    int64_t in_words[MAX_WORDS], out_words[MAX_WORDS], pointers[MAX_ARGS];
    if (!pack_inputs(in_specs, arrays, in_words, pointers)) {
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    /* The C interface's packed arguments: a pointer to each MemRef*, results' struct first. */
    void *refs[MAX_ARGS + 1], *packed[MAX_ARGS + 1];
    Py_ssize_t k = 0;
    if (num_outputs)
        refs[k++] = out_words;
    for (Py_ssize_t i = 0; i < num_inputs; i++)
        refs[k++] = in_words + PyLong_AsSsize_t(PyTuple_GET_ITEM(PyTuple_GET_ITEM(in_specs, i), 2));
    if (unpacked && k > MAX_UNPACKED_ARGS)
        Py_RETURN_NONE;
    for (Py_ssize_t i = 0; i < k; i++)
        packed[i] = &refs[i];
    if (guarded_call((void *)fn, unpacked ? refs : packed, unpacked ? k : PACKED))
        return raise_failure();
    return collect_outputs(out_specs, arrays, out_words, pointers, num_inputs);
}

static PyObject *fastcall_call(PyObject *self, PyObject *args) {
    return call_with_plan(args, 0);
}

/* call_unpacked_plan(plan, arrays): call for an artifact's entry point, whose arguments are unpacked
 * MemRef pointers (tgc/runtime/artifact.py); None, as call's, where the Python path must do it. */
static PyObject *fastcall_call_unpacked_plan(PyObject *self, PyObject *args) {
    return call_with_plan(args, 1);
}

/* call_packed(function address, address of the packed arguments): the Python path's call. */
static PyObject *fastcall_call_packed(PyObject *self, PyObject *args) {
    PyObject *address, *packed;
    if (!PyArg_ParseTuple(args, "OO", &address, &packed))
        return NULL;
    entry_fn fn = (entry_fn)PyLong_AsVoidPtr(address);
    void **arguments = (void **)PyLong_AsVoidPtr(packed);
    if (PyErr_Occurred())
        return NULL;
    if (guarded_call((void *)fn, arguments, PACKED))
        return raise_failure();
    Py_RETURN_NONE;
}

/* call_unpacked(function address, address of count pointers, count): an artifact's entry point, guarded
 * like call_packed. A count past MAX_UNPACKED_ARGS raises ValueError (artifact.py then calls by ctypes). */
static PyObject *fastcall_call_unpacked(PyObject *self, PyObject *args) {
    PyObject *address, *pointers;
    Py_ssize_t count;
    if (!PyArg_ParseTuple(args, "OOn", &address, &pointers, &count))
        return NULL;
    void *fn = PyLong_AsVoidPtr(address);
    void **arguments = (void **)PyLong_AsVoidPtr(pointers);
    if (PyErr_Occurred())
        return NULL;
    if (count < 0 || count > MAX_UNPACKED_ARGS)
        return PyErr_Format(PyExc_ValueError, "call_unpacked takes 0 to %d arguments, not %zd", MAX_UNPACKED_ARGS,
                            count);
    if (guarded_call(fn, arguments, count))
        return raise_failure();
    Py_RETURN_NONE;
}

/* take_error() -> (kind, message, values) recorded by a call made without the guard, or None. */
static PyObject *fastcall_take_error(PyObject *self, PyObject *unused) {
    if (!thread_error.pending)
        Py_RETURN_NONE;
    thread_error.pending = 0;
    PyObject *values = PyTuple_New(thread_error.count);
    if (values == NULL)
        return NULL;
    for (int64_t i = 0; i < thread_error.count; i++)
        PyTuple_SET_ITEM(values, i, PyLong_FromLongLong(thread_error.values[i]));
    return Py_BuildValue("(LsN)", (long long)thread_error.kind, thread_error.message, values);
}

static PyObject *fastcall_max_unpacked_args(PyObject *self, PyObject *unused) {
    return PyLong_FromLong(MAX_UNPACKED_ARGS);
}

static PyObject *fastcall_handler_address(PyObject *self, PyObject *unused) {
    return PyLong_FromVoidPtr((void *)runtime_error);
}

static PyMethodDef methods[] = {
    {"call", fastcall_call, METH_VARARGS, "call(plan, arrays) -> list of results, or None for the Python path"},
    {"call_unpacked_plan", fastcall_call_unpacked_plan, METH_VARARGS,
     "call_unpacked_plan(plan, arrays): call for an entry point taking unpacked descriptor pointers"},
    {"call_packed", fastcall_call_packed, METH_VARARGS, "call_packed(function, packed arguments): a guarded call"},
    {"call_unpacked", fastcall_call_unpacked, METH_VARARGS,
     "call_unpacked(function, address of the argument pointers, count): a guarded call of an artifact"},
    {"max_unpacked_args", fastcall_max_unpacked_args, METH_NOARGS, "the most arguments call_unpacked passes"},
    {"handler_address", fastcall_handler_address, METH_NOARGS, "address of the run-time error handler"},
    {"take_error", fastcall_take_error, METH_NOARGS, "the error a call without the guard recorded, or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastcall", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fastcall(void) {
    import_array();
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Failure = PyErr_NewException("tgc.runtime._fastcall.Failure", NULL, NULL);
    if (Failure == NULL || PyModule_AddObjectRef(m, "Failure", Failure) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
