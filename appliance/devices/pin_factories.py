"""gpiozero's pin factories by the name [gpio] pin_factory gives (light: no gpiozero import)."""

# name -> (module, class); imported only when asked for, since each needs its own C library.
PIN_FACTORIES = {
    "mock": ("gpiozero.pins.mock", "MockFactory"),
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
    "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory"),
    "native": ("gpiozero.pins.native", "NativeFactory"),
}
